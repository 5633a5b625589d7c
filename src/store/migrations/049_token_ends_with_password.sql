-- API tokens made while signed in (with a browser session, or with a token made that way) end with
-- the password: a password change, an admin reset or disabling the user revokes them
-- (src/store/users.ts). Tokens made before this column existed keep working as they did.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS ends_with_password boolean NOT NULL DEFAULT false;
