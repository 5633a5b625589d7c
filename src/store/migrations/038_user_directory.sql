-- Users synchronized from an LDAP directory (src/directory/): the DN of the entry a user comes
-- from, null for a local user. A directory user signs in with their directory password (a bind as
-- that DN), never a local one, and a sync that no longer finds the entry disables the user.
ALTER TABLE users ADD COLUMN directory_dn text;
CREATE UNIQUE INDEX users_directory_dn ON users (lower(directory_dn)) WHERE directory_dn IS NOT NULL;
