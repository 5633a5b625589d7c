-- Who a recording belongs to is fixed when the call is recorded, not worked out from the users as
-- they are now. Before this, a number given to a new user brought them the old holder's recordings,
-- a deleted user's recordings vanished from their group's supervisors, and a user moving group took
-- their past calls along to the new group's supervisors.
--
-- One row per (recording, number, user): the user who held the participant's number when the
-- participant appeared (at the INVITE, or a metadata update during the call), with their group then.
-- A number nobody held at the call is claimed by the first user given it later (a user created
-- after recording began, the usual way in); a number someone held stays theirs, whoever holds it
-- afterwards. Rows outlive their user (no foreign key to users): a deleted user's recordings stay
-- with their group. A group renamed carries its recordings along; a group deleted lets them go.
CREATE TABLE recording_owners (
  recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  number        text NOT NULL,
  user_id       uuid NOT NULL,
  username      text NOT NULL,
  group_name    text REFERENCES user_groups (name) ON UPDATE CASCADE ON DELETE SET NULL,
  PRIMARY KEY (recording_id, number, user_id)
);
CREATE INDEX recording_owners_user_idx ON recording_owners (user_id);
CREATE INDEX recording_owners_group_idx ON recording_owners (group_name) WHERE group_name IS NOT NULL;
CREATE INDEX recording_owners_username_idx ON recording_owners (username);

-- Participants as they appear: the users holding their numbers now own them (users_numbers_idx).
CREATE FUNCTION srs_participants_owned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO recording_owners (recording_id, number, user_id, username, group_name)
  SELECT DISTINCT n.recording_id, srs_aor_number(n.aor), u.id, u.username, u.group_name
  FROM new_participants n
  JOIN users u ON u.numbers @> ARRAY[srs_aor_number(n.aor)]
  WHERE srs_aor_number(n.aor) <> ''
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER participants_owned_insert AFTER INSERT ON participants
  REFERENCING NEW TABLE AS new_participants FOR EACH STATEMENT EXECUTE FUNCTION srs_participants_owned();
CREATE TRIGGER participants_owned_update AFTER UPDATE ON participants
  REFERENCING NEW TABLE AS new_participants FOR EACH STATEMENT EXECUTE FUNCTION srs_participants_owned();

-- A user created or given numbers claims the participants with those numbers that nobody held
-- (participants_number_idx finds them).
CREATE FUNCTION srs_user_claims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.numbers IS NOT DISTINCT FROM OLD.numbers THEN
    RETURN NULL;
  END IF;
  INSERT INTO recording_owners (recording_id, number, user_id, username, group_name)
  SELECT DISTINCT p.recording_id, srs_aor_number(p.aor), NEW.id, NEW.username, NEW.group_name
  FROM participants p
  WHERE srs_aor_number(p.aor) = ANY (NEW.numbers)
    AND NOT EXISTS (SELECT 1 FROM recording_owners o
                    WHERE o.recording_id = p.recording_id AND o.number = srs_aor_number(p.aor))
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER users_claim AFTER INSERT OR UPDATE OF numbers ON users
  FOR EACH ROW EXECUTE FUNCTION srs_user_claims();

-- What was there: the holders as they are at the upgrade (the best that is known). Driven from the
-- users (few) through participants_number_idx, not from every participant.
INSERT INTO recording_owners (recording_id, number, user_id, username, group_name)
SELECT DISTINCT p.recording_id, srs_aor_number(p.aor), u.id, u.username, u.group_name
FROM users u
JOIN participants p ON srs_aor_number(p.aor) = ANY (u.numbers)
WHERE srs_aor_number(p.aor) <> ''
ON CONFLICT DO NOTHING;
