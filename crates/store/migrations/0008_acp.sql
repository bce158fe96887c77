-- Advance care planning and the death record (DOMAIN.md §7-§8). Each change is a new
-- version with who recorded it and when; the body is the domain's JSON. Append-only:
-- the history of a patient's wishes is itself clinical information.
CREATE TABLE acp_versions (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_org TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (patient_id, version)
);
CREATE TABLE death_records (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_org TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (patient_id, version)
);
