-- Optional expiry of API tokens (NULL: never expires).
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;
