-- Issue 7: delivery of recordings to compliance archives. SFTP offload batches in the carrier
-- format, unencrypted MP3 export, email notifications. Every row is durable state: a restart
-- resumes where the last process stopped, and the console reads the same tables.

-- When each feature was first enabled: only recordings stored after it are delivered.
CREATE TABLE delivery_cursors (
  name        text PRIMARY KEY,
  since       timestamptz NOT NULL DEFAULT now()
);

-- One row per offload batch (one CSV). Batches are transferred one at a time in seq order, so a
-- batch that outlasts its interval makes the next one wait (queued, never overlapped).
CREATE TABLE offload_batches (
  id                uuid PRIMARY KEY,
  seq               bigserial UNIQUE,
  -- The interval boundary the batch was cut at (names the CSV: ..._YYYYMMDD_HHMMSS__<id>.csv).
  cut_at            timestamptz NOT NULL,
  csv_name          text NOT NULL,
  -- The CSV as rendered when the batch was cut: a resumed transfer sends the same bytes.
  csv               text NOT NULL,
  count             integer NOT NULL,
  state             text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'transferring', 'done')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  last_error        text,
  -- { csv: {name, sha256, bytes}, files: [{name, sha256, bytes}] } once the batch is done.
  manifest          jsonb,
  started_at        timestamptz,
  finished_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offload_batches_state_idx ON offload_batches (state, seq);

-- A recording goes into exactly one batch (the primary key), so nothing is sent twice.
CREATE TABLE offload_items (
  recording_id    uuid PRIMARY KEY,
  batch_id        uuid NOT NULL REFERENCES offload_batches (id),
  media_name      text NOT NULL,
  bytes           bigint,
  sha256          text,
  transferred_at  timestamptz,
  -- Why it was left out (its artifact was purged before the transfer), or null.
  skipped         text,
  purged_at       timestamptz
);
CREATE INDEX offload_items_batch_idx ON offload_items (batch_id);

-- Unencrypted MP3 export: one row per recording and destination ('primary' / 'secondary').
CREATE TABLE export_items (
  recording_id     uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  destination      text NOT NULL CHECK (destination IN ('primary', 'secondary')),
  state            text NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  -- Path relative to the destination root, fixed on the first attempt.
  path             text,
  day              date,
  bytes            bigint,
  sha256           text,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  exported_at      timestamptz,
  index_row        jsonb,
  PRIMARY KEY (recording_id, destination)
);
CREATE INDEX export_items_day_idx ON export_items (destination, day) WHERE state = 'done';

-- State of each delivery target (last success, last error) for the console.
CREATE TABLE delivery_targets (
  name          text PRIMARY KEY,
  ok            boolean NOT NULL,
  last_ok_at    timestamptz,
  last_error    text,
  last_error_at timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Who gets an email when one of their recordings is stored (seeded from the config file).
CREATE TABLE notification_subscriptions (
  user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  email       text NOT NULL,
  attach      boolean NOT NULL DEFAULT false,
  enabled     boolean NOT NULL DEFAULT true,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
  recording_id      uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email             text NOT NULL,
  state             text NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  last_error        text,
  attachment_bytes  bigint NOT NULL DEFAULT 0,
  message_id        text,
  sent_at           timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recording_id, user_id)
);
CREATE INDEX notifications_pending_idx ON notifications (next_attempt_at) WHERE state <> 'sent';
