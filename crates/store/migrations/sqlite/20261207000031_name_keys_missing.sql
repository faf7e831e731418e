-- The rows whose `name_key` (20261207000030) is still to be filled: the store looks for them
-- each time it connects, and after the first fill there are none, so these partial indexes
-- stay empty and that look-up reads nothing, where it would otherwise scan every item,
-- credential, API key, organization and user at each start.
CREATE INDEX users_name_key_missing ON users (id) WHERE name_key IS NULL;
CREATE INDEX organizations_name_key_missing ON organizations (id) WHERE name_key IS NULL;
CREATE INDEX items_name_key_missing ON items (id) WHERE name_key IS NULL;
CREATE INDEX credentials_name_key_missing ON credentials (id) WHERE name_key IS NULL;
CREATE INDEX api_keys_name_key_missing ON api_keys (id) WHERE name_key IS NULL;
