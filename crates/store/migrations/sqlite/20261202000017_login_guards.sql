-- One row per email and per IP that has tried to sign in (rule 15). A sign-in locks its
-- email's and its IP's rows (an upsert) before it counts their failures and reserves its own
-- attempt, so parallel guesses on any replica are counted one after another and at most the
-- limit is ever checked (Store::reserve_login_attempt). The rows hold no state of their own:
-- the failures are the `login_events`. Keep in step with ../postgres.

CREATE TABLE login_guards (
    key TEXT PRIMARY KEY NOT NULL
);
