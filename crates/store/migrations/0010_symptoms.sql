-- Symptom assessments (DOMAIN.md §8): a patient's or a professional's ratings on an
-- instrument (data, see 0009), with the instrument version, when the assessment was
-- made (not typed) and who recorded it. Append-only.
CREATE TABLE symptom_assessments (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    instrument_version BIGINT NOT NULL,
    answers TEXT NOT NULL,
    score BIGINT,
    assessed_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_org TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (patient_id, id),
    FOREIGN KEY (instrument_id, instrument_version) REFERENCES instruments (id, version)
);
CREATE INDEX symptom_assessments_time ON symptom_assessments (patient_id, instrument_id, assessed_at);
