-- A recording's direction (recordings.direction: inbound, outbound, internal, unknown) was never
-- set: the SIP front end decided it from the internal-number patterns but only logged it, and the
-- store wrote 'unknown'. Now the front end stores its decision at the INVITE when internal numbers
-- are configured, and the store, for a recording still without one, takes it from who owned it at
-- the call (036_recording_owners.sql): a user's number calling is outbound, called inbound, both
-- internal. srs_store_recording is the same as in 016 but for that line.

-- The direction from the owners: the first participant is the caller, the second the callee (as
-- the catalogue's caller/callee columns take them); null when no owner held either number.
CREATE FUNCTION srs_owner_direction(rec_id uuid, caller text, callee text) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (
    SELECT CASE WHEN bool_or(o.number = caller) AND bool_or(o.number = callee) THEN 'internal'
                WHEN bool_or(o.number = caller) THEN 'outbound'
                WHEN bool_or(o.number = callee) THEN 'inbound' END
    FROM recording_owners o WHERE o.recording_id = rec_id);
END $$;

CREATE OR REPLACE FUNCTION srs_store_recording(rec_id uuid, new_files jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  rec_state text;
  rec_day date;
  entry_content text;
  prev text;
  next_seq integer;
  link text;
BEGIN
  SELECT r.state, (r.started_at AT TIME ZONE 'UTC')::date INTO rec_state, rec_day
    FROM recordings r WHERE r.id = rec_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'recording % not found for markStored', rec_id USING ERRCODE = 'no_data_found';
  END IF;
  IF rec_state IN ('stored', 'purged') THEN
    RETURN false;
  END IF;

  INSERT INTO files (recording_id, kind, path, bytes, sha256_plain, sha256_cipher, key_fingerprint)
  SELECT rec_id, f.kind, f.path, f.bytes, f.sha256_plain, f.sha256_cipher, f.key_fingerprint
  FROM jsonb_to_recordset(new_files)
       AS f(kind text, path text, bytes bigint, sha256_plain text, sha256_cipher text, key_fingerprint text)
  ON CONFLICT (recording_id, kind) DO UPDATE SET path = EXCLUDED.path, bytes = EXCLUDED.bytes,
    sha256_plain = EXCLUDED.sha256_plain, sha256_cipher = EXCLUDED.sha256_cipher,
    key_fingerprint = EXCLUDED.key_fingerprint, created_at = now();

  PERFORM pg_advisory_xact_lock(78660007, to_char(rec_day, 'YYYYMMDD')::integer);
  UPDATE recordings r SET state = 'stored', error = NULL, stored_at = now(), updated_at = now(),
      caller_number = coalesce(r.caller_number, nullif(srs_aor_number(p1.aor), '')),
      caller_name = coalesce(r.caller_name, p1.name),
      callee_number = coalesce(r.callee_number, nullif(srs_aor_number(p2.aor), '')),
      callee_name = coalesce(r.callee_name, p2.name),
      direction = coalesce(r.direction, srs_owner_direction(r.id, srs_aor_number(p1.aor), srs_aor_number(p2.aor)),
                           'unknown')
    FROM recordings r0
    LEFT JOIN participants p1 ON p1.recording_id = r0.id AND p1.ordinal = 1
    LEFT JOIN participants p2 ON p2.recording_id = r0.id AND p2.ordinal = 2
    WHERE r.id = rec_id AND r0.id = r.id;

  entry_content := srs_chain_content(rec_id);
  SELECT c.seq, c.hash INTO next_seq, prev FROM recording_chain c WHERE c.day = rec_day ORDER BY c.seq DESC LIMIT 1;
  next_seq := coalesce(next_seq, 0) + 1;
  prev := coalesce(prev, '');
  link := encode(sha256(convert_to(prev || E'\n' || entry_content, 'UTF8')), 'hex');
  INSERT INTO recording_chain (day, seq, recording_id, content, prev_hash, hash)
    VALUES (rec_day, next_seq, rec_id, entry_content, prev, link) ON CONFLICT (recording_id) DO NOTHING;
  -- The new head's anchor in the audit trail (see 015_chain_anchor.sql).
  INSERT INTO audit (id, at, actor, actor_role, ip, via, action, resource, resource_id, details, prev_hash, hash)
    VALUES (0, now(), 'system', 'system', '', 'system', 'recording.chained', 'recording', rec_id::text,
            jsonb_build_object('day', to_char(rec_day, 'YYYY-MM-DD'), 'seq', next_seq, 'hash', link), '', '');
  RETURN true;
END $$;

-- Pulls by stored time (GET /recordings?storedFrom=...&sort=stored) and the export's backlog.
CREATE INDEX recordings_stored_at_idx ON recordings (stored_at, id) WHERE stored_at IS NOT NULL;
