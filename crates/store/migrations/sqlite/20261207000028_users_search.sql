-- "Name or email contains" (`q` of the Users list and the user pickers) without reading every
-- member of the organization: a trigram index over the lower-cased keys the search compares
-- (`users.email_key`, `users.name_key`). A search of 3 or more characters asks it for the
-- users whose key contains the text, then keeps the organization's members among them; the
-- `LIKE` stays the exact filter (crates/store/src/users.rs, `Store::page_users`).
--
-- The FTS5 row of a user is keyed by `users_search_keys.id`, an INTEGER PRIMARY KEY of its own,
-- not by `users.rowid`: `users` has a BLOB primary key, so its rowids may change on VACUUM.
-- The triggers below keep both tables in step with every insert, key change and delete of a
-- user, whatever writes it. A migration that rebuilds `users` (create, copy, drop, rename)
-- drops these triggers with the old table and must create them again.
CREATE TABLE users_search_keys (
    id      INTEGER PRIMARY KEY,
    user_id BLOB NOT NULL UNIQUE
);

-- case_sensitive 0 (the default): the index folds case itself, so its candidates are a
-- superset of what the LIKE (ASCII case-insensitive, over keys lower-cased by Rust) matches.
CREATE VIRTUAL TABLE users_search USING fts5 (email_key, name_key, tokenize = 'trigram');

INSERT INTO users_search_keys (user_id) SELECT id FROM users ORDER BY created_at, id;
INSERT INTO users_search (rowid, email_key, name_key)
    SELECT k.id, u.email_key, u.name_key FROM users_search_keys k JOIN users u ON u.id = k.user_id;

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search_keys (user_id) VALUES (new.id);
    INSERT INTO users_search (rowid, email_key, name_key)
        SELECT id, new.email_key, new.name_key FROM users_search_keys WHERE user_id = new.id;
END;

-- Only the keys are indexed (`name` and `email` are written with theirs); `UPDATE users SET
-- name = name` (a row lock) leaves the index alone.
CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, name_key ON users
WHEN old.email_key IS NOT new.email_key OR old.name_key IS NOT new.name_key BEGIN
    DELETE FROM users_search WHERE rowid = (SELECT id FROM users_search_keys WHERE user_id = old.id);
    INSERT INTO users_search (rowid, email_key, name_key)
        SELECT id, new.email_key, new.name_key FROM users_search_keys WHERE user_id = new.id;
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_search WHERE rowid = (SELECT id FROM users_search_keys WHERE user_id = old.id);
    DELETE FROM users_search_keys WHERE user_id = old.id;
END;
