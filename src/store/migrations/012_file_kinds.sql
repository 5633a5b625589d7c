-- Renamed from 011_file_kinds.sql by the lead: 011 is taken by 011_delivery_retry.sql. Keep this name.
-- Extra audio outputs (SRS_OUTPUTS): a stereo WAV ('stereo', one party per channel) and one WAV per
-- stream ('leg0', 'leg1', ...), next to the mono mix ('wav') and the MP3.
ALTER TABLE files DROP CONSTRAINT IF EXISTS files_kind_check;
ALTER TABLE files ADD CONSTRAINT files_kind_check CHECK (kind IN ('mp3', 'wav', 'stereo') OR kind ~ '^leg[0-9]+$');
