-- How far the per-recording deliveries (export per destination, email notifications, the SMTP
-- journal) have looked for new stored recordings. Each pass used to scan every recording stored
-- since the feature was enabled (delivery_cursors.since): a cost that grew around the clock (with
-- 500,000 recordings behind the cursor, 0.3 s per export pass and 1.6 s per journal pass). A pass
-- now scans from `scanned_to` on, then moves it to 10 minutes before the pass (a recording's
-- stored_at is its storing transaction's start; one that commits later than that is still seen),
-- and for the export no further than the oldest recording it has not given an item yet.
-- Retries come from the features' own tables (pending rows), whatever their age.
CREATE TABLE delivery_scans (
  name        text PRIMARY KEY,
  scanned_to  timestamptz NOT NULL
);
CREATE INDEX export_items_pending_idx ON export_items (destination, next_attempt_at) WHERE state = 'pending';
