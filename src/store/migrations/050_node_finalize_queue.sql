-- The finalize queue of a node's data directory (src/pipeline/routing.ts), so that `srs node forget`
-- (src/store/node-forget.ts) can tell whether recordings still wait for that directory: their audio
-- is only there. NULL for a node registered before this column existed (and for a test's node).
ALTER TABLE cluster_nodes ADD COLUMN IF NOT EXISTS finalize_queue text;
