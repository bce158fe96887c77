-- Questionnaires as data and surveys answered through a one-time link (DOMAIN.md §8).
-- Every loaded version of an instrument is kept; a response names the version it
-- answered. An invitation is used once (the response's key is the invitation), can
-- expire, and can be revoked (a revocation row, never an update). Append-only.
CREATE TABLE instruments (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE TABLE survey_invitations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    instrument_id TEXT NOT NULL,
    instrument_version BIGINT NOT NULL,
    -- The patient a family's survey is about (none for a staff survey).
    patient_id TEXT REFERENCES patients(id),
    recipient TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_org TEXT NOT NULL REFERENCES organizations(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    FOREIGN KEY (instrument_id, instrument_version) REFERENCES instruments (id, version)
);
CREATE INDEX survey_invitations_patient ON survey_invitations (patient_id, created_at);
CREATE TABLE survey_revocations (
    invitation_id TEXT PRIMARY KEY REFERENCES survey_invitations(id),
    revoked_at TEXT NOT NULL,
    revoked_by TEXT NOT NULL REFERENCES users(id)
);
CREATE TABLE survey_responses (
    invitation_id TEXT PRIMARY KEY REFERENCES survey_invitations(id),
    instrument_id TEXT NOT NULL,
    instrument_version BIGINT NOT NULL,
    answers TEXT NOT NULL,
    score BIGINT,
    submitted_at TEXT NOT NULL
);
