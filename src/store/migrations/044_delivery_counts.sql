-- What the console's Delivery page and /metrics show per state (export items per destination,
-- email notifications, journal messages) was counted over the whole tables at every view and
-- every scrape: one row per recording, so a cost that grew around the clock (1.2 s a scrape with
-- 500,000 recordings delivered). The counts are now kept as rows change (a trigger), and the lists
-- of failures read through indexes of the unfinished rows only.
CREATE TABLE delivery_counts (
  kind   text NOT NULL, -- 'export:primary', 'export:secondary', 'notifications', 'journal'
  state  text NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (kind, state)
);

-- The counts move once per statement, by the rows it changed (transition tables): a row-level
-- trigger updating the same count row for every row of one statement (a first pass queuing
-- 500,000 journal messages) costs quadratic time in Postgres.
CREATE FUNCTION srs_delivery_count_apply(deltas jsonb) RETURNS void LANGUAGE sql AS $$
  INSERT INTO delivery_counts (kind, state, n)
  SELECT d.kind, d.state, sum(d.n) FROM jsonb_to_recordset(deltas) AS d (kind text, state text, n bigint)
  GROUP BY d.kind, d.state HAVING sum(d.n) <> 0
  ON CONFLICT (kind, state) DO UPDATE SET n = delivery_counts.n + EXCLUDED.n;
$$;

-- TG_ARGV[0]: 'export' (a count per destination), 'notifications' or 'journal'.
CREATE FUNCTION srs_delivery_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deltas jsonb := '[]';
  kind_of text := CASE WHEN TG_ARGV[0] = 'export' THEN NULL ELSE TG_ARGV[0] END;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF kind_of IS NULL THEN
      SELECT deltas || coalesce(jsonb_agg(jsonb_build_object('kind', 'export:' || o.destination, 'state', o.state, 'n', -o.n)), '[]')
        INTO deltas FROM (SELECT destination, state, count(*) AS n FROM old_rows GROUP BY 1, 2) o;
    ELSE
      SELECT deltas || coalesce(jsonb_agg(jsonb_build_object('kind', kind_of, 'state', o.state, 'n', -o.n)), '[]')
        INTO deltas FROM (SELECT state, count(*) AS n FROM old_rows GROUP BY 1) o;
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    IF kind_of IS NULL THEN
      SELECT deltas || coalesce(jsonb_agg(jsonb_build_object('kind', 'export:' || x.destination, 'state', x.state, 'n', x.n)), '[]')
        INTO deltas FROM (SELECT destination, state, count(*) AS n FROM new_rows GROUP BY 1, 2) x;
    ELSE
      SELECT deltas || coalesce(jsonb_agg(jsonb_build_object('kind', kind_of, 'state', x.state, 'n', x.n)), '[]')
        INTO deltas FROM (SELECT state, count(*) AS n FROM new_rows GROUP BY 1) x;
    END IF;
  END IF;
  PERFORM srs_delivery_count_apply(deltas);
  RETURN NULL;
END $$;

-- No row may change between the counting and the triggers (another node still running).
LOCK TABLE export_items, notifications, journal_messages IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO delivery_counts (kind, state, n)
  SELECT 'export:' || destination, state, count(*) FROM export_items GROUP BY destination, state;
INSERT INTO delivery_counts (kind, state, n) SELECT 'notifications', state, count(*) FROM notifications GROUP BY state;
INSERT INTO delivery_counts (kind, state, n) SELECT 'journal', state, count(*) FROM journal_messages GROUP BY state;
CREATE TRIGGER export_items_count_insert AFTER INSERT ON export_items REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('export');
CREATE TRIGGER export_items_count_update AFTER UPDATE ON export_items REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('export');
CREATE TRIGGER export_items_count_delete AFTER DELETE ON export_items REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('export');
CREATE TRIGGER notifications_count_insert AFTER INSERT ON notifications REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('notifications');
CREATE TRIGGER notifications_count_update AFTER UPDATE ON notifications REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('notifications');
CREATE TRIGGER notifications_count_delete AFTER DELETE ON notifications REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('notifications');
CREATE TRIGGER journal_messages_count_insert AFTER INSERT ON journal_messages REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('journal');
CREATE TRIGGER journal_messages_count_update AFTER UPDATE ON journal_messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('journal');
CREATE TRIGGER journal_messages_count_delete AFTER DELETE ON journal_messages REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION srs_delivery_count('journal');

-- The failures the Delivery page lists, and the last export per destination (metrics).
CREATE INDEX export_items_unfinished_idx ON export_items (next_attempt_at) WHERE state <> 'done';
CREATE INDEX export_items_exported_idx ON export_items (destination, exported_at) WHERE state = 'done';
CREATE INDEX journal_messages_unsent_idx ON journal_messages (next_attempt_at) WHERE state <> 'sent';
