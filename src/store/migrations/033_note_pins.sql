-- Pinned notes: shown above the others on a recording (who pinned it, and their role's rank, so
-- that a lower role cannot take down a higher role's pin).
ALTER TABLE recording_notes
  ADD COLUMN pinned_at   timestamptz,
  ADD COLUMN pinned_by   text,
  ADD COLUMN pinned_rank integer;
