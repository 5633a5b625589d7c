-- Recording control: a record mode per user and per group (the user's wins; the default
-- is the setting `recording.control`), and what the control did to each recording.
ALTER TABLE users ADD COLUMN record_mode text
  CHECK (record_mode IN ('always', 'always-pause', 'on-demand', 'never'));
ALTER TABLE user_groups ADD COLUMN record_mode text
  CHECK (record_mode IN ('always', 'always-pause', 'on-demand', 'never'));
-- The mode a call was recorded under, and whether any audio of it was kept (false: an on-demand
-- call never started, or a `never` call; its row is metadata only, with no files).
ALTER TABLE recordings ADD COLUMN record_mode text;
ALTER TABLE recordings ADD COLUMN audio_kept boolean;
