-- The second factor (MHLW guideline: two-factor authentication for medical
-- information systems). An authenticator-app secret per person with the last time
-- step accepted (a code works once), recovery codes stored only as hashes, and the
-- stage of each session: a password alone opens only the page that asks for the code.
CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    secret_hex TEXT NOT NULL,
    last_step BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT,
    PRIMARY KEY (user_id, code_hash)
);
-- stage: 'full' (signed in), 'code' (password given, the code is awaited), 'enrol'
-- (password given, the person must set up an authenticator first).
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
-- When the person last proved who they are (password, and the code where they have
-- one): sensitive actions ask again when this is old.
ALTER TABLE sessions ADD COLUMN authenticated_at TEXT;
-- A secret being set up, until the first code from it is confirmed.
ALTER TABLE sessions ADD COLUMN enrol_secret_hex TEXT;
