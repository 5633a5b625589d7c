-- Interactions: recordings of one longer interaction (a transfer, a consultation) share the
-- SIPREC communication session group the SRC names (RFC 7865 <group group_id>).
ALTER TABLE recordings ADD COLUMN interaction_id text CHECK (length(interaction_id) BETWEEN 1 AND 256);
CREATE INDEX recordings_interaction_idx ON recordings (interaction_id) WHERE interaction_id IS NOT NULL;
