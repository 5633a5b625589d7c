-- The per-day recording chain becomes append-only like the audit trail, and every append is
-- anchored in the (append-only, hash-chained) audit trail as a 'recording.chained' row holding
-- the day, the entry's sequence number and its hash. `srs recordings verify` compares each day's
-- chain head with its newest anchor, so removing the last entries of a day (even together with
-- their recordings) is detected: the anchor names a sequence number the chain no longer reaches.
CREATE FUNCTION recording_chain_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the recording chain is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER recording_chain_no_update BEFORE UPDATE OR DELETE ON recording_chain
  FOR EACH ROW EXECUTE FUNCTION recording_chain_refuse_change();
CREATE TRIGGER recording_chain_no_truncate BEFORE TRUNCATE ON recording_chain
  FOR EACH STATEMENT EXECUTE FUNCTION recording_chain_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON recording_chain FROM PUBLIC;

CREATE INDEX audit_chain_anchor_idx ON audit ((details ->> 'day'), id) WHERE action = 'recording.chained';

-- Anchor what is already chained: one anchor per day at its current head.
INSERT INTO audit (id, at, actor, actor_role, ip, via, action, resource, resource_id, details, prev_hash, hash)
SELECT 0, now(), 'system', 'system', '', 'system', 'recording.chained', 'recording', c.recording_id::text,
       jsonb_build_object('day', to_char(c.day, 'YYYY-MM-DD'), 'seq', c.seq, 'hash', c.hash, 'backfill', true), '', ''
FROM recording_chain c
WHERE c.seq = (SELECT max(seq) FROM recording_chain c2 WHERE c2.day = c.day)
ORDER BY c.day;
