-- srs_chain_content in PL/pgSQL: the same text as 016_store_recording.sql defines, but its query is
-- planned once per connection and kept, where the SQL-language function was parsed and planned
-- again at every call (once per recording stored, inside srs_store_recording).
CREATE OR REPLACE FUNCTION srs_chain_content(rec_id uuid) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (
    SELECT r.id::text || '|' || to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
           || '|' || coalesce(r.duration_ms::text, '') || '|' ||
           coalesce((SELECT string_agg(f.kind || ':' || f.sha256_plain, ',' ORDER BY f.kind)
                     FROM files f WHERE f.recording_id = r.id), '')
    FROM recordings r WHERE r.id = rec_id);
END $$;
