-- Issue 5: the post-call catalogue. Searchable call parties, key rotation, the per-day hash chain,
-- crash-safe job ownership, key re-encryption progress, retention tombstones.

-- Who called whom (ANI / DNIS) and the direction, filled in when the recording is stored (from
-- the first two participants of the metadata) unless something set them earlier.
ALTER TABLE recordings ADD COLUMN direction text
  CHECK (direction IN ('inbound', 'outbound', 'internal', 'unknown'));
ALTER TABLE recordings ADD COLUMN caller_number text;
ALTER TABLE recordings ADD COLUMN caller_name text;
ALTER TABLE recordings ADD COLUMN callee_number text;
ALTER TABLE recordings ADD COLUMN callee_name text;
ALTER TABLE recordings ADD COLUMN stored_at timestamptz;
-- Retention: a purged recording keeps its row (a tombstone) with its files' hashes in the chain.
ALTER TABLE recordings ADD COLUMN purged_at timestamptz;
ALTER TABLE recordings DROP CONSTRAINT recordings_state_check;
ALTER TABLE recordings ADD CONSTRAINT recordings_state_check
  CHECK (state IN ('recording', 'processing', 'stored', 'failed', 'purged'));

-- Search by number within a time range, newest first; by Call-ID and session id (001 has those).
CREATE INDEX recordings_caller_number_idx ON recordings (caller_number, started_at);
CREATE INDEX recordings_callee_number_idx ON recordings (callee_number, started_at);
-- The retention purge scans stored recordings by age.
CREATE INDEX recordings_stored_started_idx ON recordings (started_at) WHERE state = 'stored';

-- Keys: the armored public key travels in the catalogue so that every node encrypts to the active
-- key (read per job); the passphrase-protected private key lives in <dataDir>/keys.
ALTER TABLE keys ADD COLUMN public_key text;
ALTER TABLE keys ADD COLUMN retired_at timestamptz;
CREATE UNIQUE INDEX keys_one_active_idx ON keys ((true)) WHERE active;
CREATE INDEX files_key_fingerprint_idx ON files (key_fingerprint);

-- Each UTC day's stored recordings, chained in the order they were stored: entry n's hash covers
-- entry n-1's hash and the recording's id, start, duration and plaintext hashes. A removed,
-- reordered or altered entry breaks the chain. No foreign key: the entry outlives its recording.
CREATE TABLE recording_chain (
  day           date NOT NULL,
  seq           integer NOT NULL,
  recording_id  uuid NOT NULL UNIQUE,
  content       text NOT NULL,
  prev_hash     text NOT NULL,
  hash          text NOT NULL,
  chained_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (day, seq)
);

-- Which server process runs a finalize job. Each process holds a session advisory lock
-- (78660005, node_key) while alive; an active job whose node holds no lock was orphaned by a
-- crash and is handed back to the queue at once instead of waiting for pg-boss's expiry.
CREATE TABLE pipeline_runs (
  recording_id  uuid PRIMARY KEY,
  node_key      integer NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now()
);

-- `srs keys retire --reencrypt`: one row per artifact moved off a retired key (resumable).
CREATE TABLE key_reencryptions (
  recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  kind          text NOT NULL,
  old_key       text NOT NULL,
  new_key       text NOT NULL,
  old_path      text NOT NULL,
  new_path      text NOT NULL,
  state         text NOT NULL CHECK (state IN ('pending', 'done')),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recording_id, kind, old_key)
);

-- Metadata versions: the INVITE's document (version 0, on the recording row) and every later
-- rs-metadata document received by re-INVITE/UPDATE (recording_events of type 'metadata', issue 4),
-- raw XML and the parsed remainder of the event.
CREATE VIEW metadata_versions AS
  SELECT r.id AS recording_id, 0::bigint AS version, r.started_at AS received_at,
         r.metadata_xml AS raw, NULL::jsonb AS parsed
  FROM recordings r WHERE r.metadata_xml IS NOT NULL
  UNION ALL
  SELECT e.recording_id, row_number() OVER (PARTITION BY e.recording_id ORDER BY e.seq), e.at,
         e.detail->>'xml', e.detail - 'xml'
  FROM recording_events e WHERE e.type = 'metadata';
