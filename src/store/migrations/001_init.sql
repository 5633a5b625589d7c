-- Catalogue of recordings: one row per SIPREC recording session.
CREATE TABLE recordings (
  id            uuid PRIMARY KEY,
  session_id    text,
  call_id       text NOT NULL,
  src_address   text NOT NULL,
  started_at    timestamptz NOT NULL,
  ended_at      timestamptz,
  duration_ms   bigint,
  state         text NOT NULL DEFAULT 'recording'
                CHECK (state IN ('recording', 'processing', 'stored', 'failed')),
  error         text,
  metadata_xml  text,
  media_stats   jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_started_at_idx ON recordings (started_at);
CREATE INDEX recordings_call_id_idx ON recordings (call_id);
CREATE INDEX recordings_session_id_idx ON recordings (session_id);

-- Participants (ordinal keeps metadata order; participant ids are not trusted to be unique) as the RFC 7865 metadata describes them.
CREATE TABLE participants (
  recording_id    uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  ordinal         integer NOT NULL,
  participant_id  text NOT NULL,
  aor             text,
  name            text,
  sends_labels    text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (recording_id, ordinal)
);

-- One row per recorded media stream (SDP m-line).
CREATE TABLE streams (
  recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  ordinal       integer NOT NULL,
  label         text NOT NULL,
  stream_id     text,
  leg_id        text NOT NULL,
  codec         text NOT NULL,
  port          integer NOT NULL,
  PRIMARY KEY (recording_id, ordinal)
);

-- Encryption keys (public part on disk; the catalogue only names them).
CREATE TABLE keys (
  fingerprint  text PRIMARY KEY,
  algorithm    text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  active       boolean NOT NULL DEFAULT true
);

-- Encrypted artifacts of a recording; at most one per kind.
CREATE TABLE files (
  recording_id     uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  kind             text NOT NULL CHECK (kind IN ('mp3', 'wav')),
  path             text NOT NULL,
  bytes            bigint NOT NULL,
  sha256_plain     text NOT NULL,
  sha256_cipher    text NOT NULL,
  key_fingerprint  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (recording_id, kind)
);
