-- The names of organizations, workspace items (chatflows, agentflows, assistants, tools,
-- variables, document stores, datasets), credentials and API keys lower-cased by the
-- application (Rust's `str::to_lowercase`, as `q` is), for searching their lists with `q`
-- alike on both backends, as `users.name_key` (20261205000024): SQLite's LOWER() folds ASCII
-- only. The store fills the rows this leaves NULL when it connects, and every write of a name
-- writes its key.
ALTER TABLE organizations ADD COLUMN name_key TEXT;
ALTER TABLE items ADD COLUMN name_key TEXT;
ALTER TABLE credentials ADD COLUMN name_key TEXT;
ALTER TABLE api_keys ADD COLUMN name_key TEXT;
