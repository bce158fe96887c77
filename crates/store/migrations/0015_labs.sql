-- Lab results imported from a hospital's SS-MIX2 standardized storage (issue #7), and
-- the files already imported: a file is imported once per organization, known by its
-- SHA-256, so running the import again adds nothing. Append-only.
CREATE TABLE lab_results (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    -- The facility that reported the result (the organization the import ran for).
    org_id TEXT NOT NULL REFERENCES organizations(id),
    code TEXT NOT NULL,
    code_system TEXT NOT NULL,
    name TEXT NOT NULL,
    value_num DOUBLE PRECISION,
    value_text TEXT NOT NULL,
    unit TEXT NOT NULL,
    reference_range TEXT NOT NULL,
    -- '' (none), or the HL7 abnormal flag: L, H, LL, HH, A, AA.
    abnormal TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX lab_results_test ON lab_results (patient_id, code, observed_at);
CREATE TABLE import_files (
    org_id TEXT NOT NULL REFERENCES organizations(id),
    sha256 TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    items BIGINT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (org_id, sha256)
);
CREATE INDEX import_files_patient ON import_files (patient_id, imported_at);
