-- The web console's language, set at three levels (the first one set applies): the user's own,
-- their group's default, and the site's default (settings key 'console.language').
ALTER TABLE users ADD COLUMN language text;
ALTER TABLE user_groups ADD COLUMN language text;
