-- Users, roles, sessions, API tokens, settings, the append-only hash-chained audit trail, and what
-- users add to recordings (notes, categories, preservation). Issue 6.

-- The number a participant's AOR stands for: 'sip:1001@pbx;user=phone' -> '1001', 'tel:+3912' -> '+3912'.
CREATE FUNCTION srs_aor_number(aor text) RETURNS text
  LANGUAGE sql IMMUTABLE AS
$$ SELECT lower(regexp_replace(regexp_replace(coalesce(aor, ''), '^(sips?:|tel:)', '', 'i'), '[@;].*$', '')) $$;

CREATE TABLE user_groups (
  name         text PRIMARY KEY CHECK (name <> ''),
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id             uuid PRIMARY KEY,
  username       text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
  display_name   text NOT NULL DEFAULT '',
  role           text NOT NULL CHECK (role IN ('record-only', 'user', 'supervisor', 'admin')),
  -- scrypt$N$r$p$salt$hash (node:crypto scrypt, memory-hard); NULL: cannot log in with a password.
  password_hash  text,
  -- The recording group the user belongs to, and further groups a supervisor manages.
  group_name     text REFERENCES user_groups (name) ON UPDATE CASCADE ON DELETE SET NULL,
  extra_groups   text[] NOT NULL DEFAULT '{}',
  -- Extensions / numbers / SIP user parts that identify the user's own recordings (lower case).
  numbers        text[] NOT NULL DEFAULT '{}',
  disabled       boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_numbers_idx ON users USING gin (numbers);

-- Browser sessions: only the SHA-256 of the cookie value is stored.
CREATE TABLE user_sessions (
  token_hash   text PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  ip           text NOT NULL DEFAULT '',
  user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);

-- API tokens for integrations (bearer); only the SHA-256 is stored.
CREATE TABLE api_tokens (
  id            uuid PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL,
  token_hash    text NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

-- Global settings (who may download / delete, ...), JSON values.
CREATE TABLE settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL DEFAULT ''
);

-- Preservation: a preserved recording cannot be deleted; only a user of at least the preserver's
-- rank may lift it.
ALTER TABLE recordings ADD COLUMN preserved_at timestamptz;
ALTER TABLE recordings ADD COLUMN preserved_by text;
ALTER TABLE recordings ADD COLUMN preserved_rank integer;

CREATE TABLE recording_notes (
  id           uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  author       text NOT NULL,
  author_rank  integer NOT NULL,
  body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recording_notes_rec_idx ON recording_notes (recording_id);

CREATE TABLE recording_categories (
  recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  category     text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
  added_by     text NOT NULL,
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recording_id, category)
);
CREATE INDEX recording_categories_cat_idx ON recording_categories (category);
CREATE INDEX participants_number_idx ON participants (srs_aor_number(aor));

-- The audit trail. Append-only: UPDATE, DELETE and TRUNCATE raise; each row carries the SHA-256
-- of its content and of the previous row's hash, so an edit made behind the triggers' back (or a
-- removed row) breaks the chain, which audit_verify finds.
CREATE TABLE audit (
  id           bigint PRIMARY KEY,
  at           timestamptz NOT NULL,
  actor        text NOT NULL,
  actor_role   text NOT NULL,
  ip           text NOT NULL,
  via          text NOT NULL,
  action       text NOT NULL,
  resource     text NOT NULL,
  resource_id  text NOT NULL,
  details      jsonb NOT NULL,
  prev_hash    text NOT NULL,
  hash         text NOT NULL
);
CREATE SEQUENCE audit_id_seq OWNED BY audit.id;
CREATE INDEX audit_at_idx ON audit (at);
CREATE INDEX audit_actor_idx ON audit (actor);
CREATE INDEX audit_resource_idx ON audit (resource, resource_id);

CREATE FUNCTION audit_row_hash(prev text, id bigint, at timestamptz, actor text, actor_role text, ip text,
                               via text, action text, resource text, resource_id text, details jsonb)
  RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT encode(sha256(convert_to(
     prev || E'\n' || id::text || E'\n' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n' ||
     actor || E'\n' || actor_role || E'\n' || ip || E'\n' || via || E'\n' || action || E'\n' ||
     resource || E'\n' || resource_id || E'\n' || details::text, 'UTF8')), 'hex') $$;

-- Serialises appends (one advisory lock per transaction), then numbers and chains the row.
CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last text;
BEGIN
  PERFORM pg_advisory_xact_lock(78660006);
  SELECT a.hash INTO last FROM audit a ORDER BY a.id DESC LIMIT 1;
  NEW.id := nextval('audit_id_seq');
  NEW.at := clock_timestamp();
  NEW.prev_hash := coalesce(last, '');
  NEW.hash := audit_row_hash(NEW.prev_hash, NEW.id, NEW.at, NEW.actor, NEW.actor_role, NEW.ip, NEW.via,
                             NEW.action, NEW.resource, NEW.resource_id, NEW.details);
  RETURN NEW;
END $$;

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_chain_trg BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM PUBLIC;
