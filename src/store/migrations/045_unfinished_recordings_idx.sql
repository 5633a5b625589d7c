-- The capacity figures read the oldest recording whose plaintext spool is still on disk every 2
-- seconds, and the job counts (console, /metrics) the recordings whose finalize failed for good:
-- both were a scan of every recording ever made (75-80 ms each at 1,000,000 recordings, two
-- workers, growing without bound around the clock). These rows are few: indexes of them alone.
CREATE INDEX recordings_unfinished_idx ON recordings (started_at) WHERE state IN ('recording', 'processing');
CREATE INDEX recordings_failed_idx ON recordings (id) WHERE state = 'failed';
