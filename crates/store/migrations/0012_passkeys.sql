-- Passkeys (WebAuthn) as an alternative second factor (issue #8). One row per
-- registered credential; the row keeps the serialized credential (public key, sign
-- counter) that webauthn-rs checks an assertion against. A removal is a mark, never a
-- DELETE, so the history of a person's factors stays with the audit trail.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    -- base64url of the credential id, as the authenticator reports it.
    credential_id TEXT NOT NULL UNIQUE,
    -- The name the person gave it ("仕事用のiPhone").
    name TEXT NOT NULL,
    -- webauthn-rs `Passkey`, serialized as JSON (public key, counter, backup state).
    credential_json TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    removed_at TEXT
);
CREATE INDEX passkeys_user ON passkeys (user_id);
-- The state of a ceremony under way in this session (a registration or an
-- authentication with its challenge), taken once when the browser answers.
ALTER TABLE sessions ADD COLUMN passkey_state TEXT;
