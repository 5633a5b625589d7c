-- GET /keys (and `srs keys list`) showed each key's file count by counting the files table at
-- every read, and the console reads it every 2 s while a key's files are re-encrypted: 100 ms a
-- read with 2,000,000 files (1,000,000 recordings, 17 hours at the sustained load), growing
-- around the clock. The counts are now kept as files change: a statement trigger, by the rows the
-- statement changed (transition tables, as delivery_counts in 044), every files row counted as
-- before (a purged recording's rows stay, as tombstones).
CREATE TABLE key_file_counts (
  fingerprint  text PRIMARY KEY,
  n            bigint NOT NULL
);

-- The count rows in fingerprint order: two statements moving files between the same keys lock
-- their rows in one order.
CREATE FUNCTION srs_key_file_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO key_file_counts (fingerprint, n)
      SELECT key_fingerprint, count(*) FROM new_rows GROUP BY key_fingerprint ORDER BY key_fingerprint
      ON CONFLICT (fingerprint) DO UPDATE SET n = key_file_counts.n + EXCLUDED.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO key_file_counts (fingerprint, n)
      SELECT key_fingerprint, -count(*) FROM old_rows GROUP BY key_fingerprint ORDER BY key_fingerprint
      ON CONFLICT (fingerprint) DO UPDATE SET n = key_file_counts.n + EXCLUDED.n;
  ELSE
    INSERT INTO key_file_counts (fingerprint, n)
      SELECT fp, sum(d) FROM (
        SELECT key_fingerprint AS fp, -1 AS d FROM old_rows
        UNION ALL SELECT key_fingerprint, 1 FROM new_rows) x
      GROUP BY fp HAVING sum(d) <> 0 ORDER BY fp
      ON CONFLICT (fingerprint) DO UPDATE SET n = key_file_counts.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END $$;

-- No file may change between the counting and the triggers (another node still running).
LOCK TABLE files IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO key_file_counts (fingerprint, n) SELECT key_fingerprint, count(*) FROM files GROUP BY key_fingerprint;
CREATE TRIGGER files_key_count_insert AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_key_file_count();
CREATE TRIGGER files_key_count_update AFTER UPDATE ON files REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_key_file_count();
CREATE TRIGGER files_key_count_delete AFTER DELETE ON files REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_key_file_count();
