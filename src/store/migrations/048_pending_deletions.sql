-- Artifacts that must be removed from the store but were refused: an Object Lock retention not yet
-- ended, an S3 legal hold, or an error of the store (AccessDenied, EIO, unreachable). The recording
-- is already purged (or the object is a re-encrypted recording's old ciphertext), so nothing else
-- names the object any more: this row is what makes the retention pass try it again until it is
-- gone (src/pipeline/retention-pending.ts). One row per store path.
CREATE TABLE pending_deletions (
  path             text PRIMARY KEY,
  recording_id     uuid NOT NULL,
  -- retention | offload | journal | delete | reencrypt
  source           text NOT NULL,
  reason           text NOT NULL CHECK (reason IN ('object-lock', 'legal-hold', 'error')),
  retain_until     timestamptz,
  error            text,
  -- The retired key whose old ciphertext this is (source reencrypt).
  key_fingerprint  text,
  attempts         integer NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz NOT NULL DEFAULT now(),
  next_attempt_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_deletions_next_idx ON pending_deletions (next_attempt_at);
CREATE INDEX pending_deletions_recording_idx ON pending_deletions (recording_id);
CREATE INDEX pending_deletions_key_idx ON pending_deletions (key_fingerprint) WHERE key_fingerprint IS NOT NULL;
