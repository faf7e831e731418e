-- Nothing to do on SQLite: ../postgres moves the authorization version bumps to the commit,
-- to keep PostgreSQL's row locks in one order. SQLite has one writer at a time, so its
-- triggers bump in place. A migration of the same version keeps the two directories in step.
SELECT 1;
