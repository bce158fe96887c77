-- Versions of a patient's registered demographics (issue #7: FHIR read, vread and
-- _history, and If-Match on update). `patients` keeps the version in force (what
-- searches and the chart read); every version, the first included, is kept here,
-- append-only, with who recorded it and through which path. A correction is a new
-- version, never a change of an old one.
CREATE TABLE patient_versions (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    version BIGINT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_kana TEXT NOT NULL,
    given_kana TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    postal_code TEXT,
    address TEXT,
    phone TEXT,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_org TEXT REFERENCES organizations(id),
    -- 'register' (the form or the JSON API), 'fhir' (the FHIR API), 'migration'
    -- (the first version of a patient registered before versions were kept).
    via TEXT NOT NULL,
    PRIMARY KEY (patient_id, version)
);

ALTER TABLE patients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

INSERT INTO patient_versions (patient_id, version, family_name, given_name, family_kana, given_kana, sex, birth_date,
    postal_code, address, phone, recorded_at, recorded_by, recorded_org, via)
SELECT id, 1, family_name, given_name, family_kana, given_kana, sex, birth_date, postal_code, address, phone,
    created_at, created_by, owner_org_id, 'migration'
FROM patients;

-- A FHIR bulk export ($export): who asked, what, and the NDJSON files it wrote to the
-- object store (addressed by SHA-256). Written once when the export is complete; only
-- the person who asked may fetch it. Which patients it held is in the audit chain.
CREATE TABLE fhir_exports (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    request TEXT NOT NULL,
    transaction_time TEXT NOT NULL,
    -- JSON: [{"type": "Patient", "sha256": "...", "count": 12}, ...]
    outputs TEXT NOT NULL,
    patients BIGINT NOT NULL
);
CREATE INDEX fhir_exports_user ON fhir_exports (user_id);
