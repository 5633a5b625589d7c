-- Issue 7, retries: an offload batch that keeps failing ends in a visible 'failed' state (after
-- offload.maxAttempts attempts) until it is retried by hand; an unreachable destination backs off
-- (consecutive failures, next attempt) without costing the items it holds any attempts.

ALTER TABLE offload_batches DROP CONSTRAINT offload_batches_state_check;
ALTER TABLE offload_batches ADD CONSTRAINT offload_batches_state_check
  CHECK (state IN ('queued', 'transferring', 'done', 'failed'));

ALTER TABLE delivery_targets ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE delivery_targets ADD COLUMN next_attempt_at timestamptz;
