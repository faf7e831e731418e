-- A user's name lower-cased by the application (Rust's `str::to_lowercase`, as `q` is), for
-- searching lists with `q` alike on both backends: SQLite's LOWER() folds ASCII only, so
-- "Émile" would not match "émile" there. The store fills the rows this leaves NULL (the users
-- of before this migration) when it connects, and every write of a name writes its key.
ALTER TABLE users ADD COLUMN name_key TEXT;
