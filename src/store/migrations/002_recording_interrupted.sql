-- A recording whose process died during the call (kill -9, power loss) and that startup recovery
-- finalized from its spool: its audio ends where the spool ends (at most ~1 s before the crash).
ALTER TABLE recordings ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
