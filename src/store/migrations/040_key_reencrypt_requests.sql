-- Re-encryption of a retired key asked for through the API (POST /keys/{fp}/retire with
-- reencrypt): the server's key service (src/pipeline/reencrypt.ts) moves the key's files to the
-- active key in the background, resuming after a restart until none is left. reencrypt_error: the
-- last pass's failures (null when it finished clean); reencrypt_finished_at: no file left.
ALTER TABLE keys ADD COLUMN reencrypt_requested_at timestamptz;
ALTER TABLE keys ADD COLUMN reencrypt_requested_by text;
ALTER TABLE keys ADD COLUMN reencrypt_finished_at timestamptz;
ALTER TABLE keys ADD COLUMN reencrypt_error text;
