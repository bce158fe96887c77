-- Prescriptions imported from a hospital's SS-MIX2 standardized storage (issue #7): one
-- row per drug of an order (RXE of RDE^O11, or RXO of the older OMP^O09), with what its
-- ORC, TQ1 and RXR say. A file is imported once per organization (import_files, kind
-- 'prescription', from 0015), so running the import again adds nothing. Append-only: a
-- cancellation arrives as a new row with its order control (CA, DC), never as a change.
-- Texts the message did not give are ''; numbers and dates it did not give are NULL.
CREATE TABLE prescriptions (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    -- The facility the storage came from (the organization the import ran for).
    org_id TEXT NOT NULL REFERENCES organizations(id),
    -- ORC-1: NW (new), CA (cancel), DC (discontinue), XO (change)...
    order_control TEXT NOT NULL,
    -- ORC-2 (the order number) and ORC-4 (in JAHIS, the Rp number).
    order_number TEXT NOT NULL,
    rp_number TEXT NOT NULL,
    -- RXE-2 / RXO-1 as sent: the primary code and its system (HOT, YJ, a local one) and
    -- the alternate pair; the drug's name.
    drug_code TEXT NOT NULL,
    drug_code_system TEXT NOT NULL,
    drug_alt_code TEXT NOT NULL,
    drug_alt_code_system TEXT NOT NULL,
    drug_name TEXT NOT NULL,
    -- Amount per dose (1回量) and the daily amount (1日量, RXE-19), as sent, with units.
    dose TEXT NOT NULL,
    dose_unit TEXT NOT NULL,
    daily_dose TEXT NOT NULL,
    daily_dose_unit TEXT NOT NULL,
    dosage_form TEXT NOT NULL,
    route TEXT NOT NULL,
    -- TQ1-3: the JAMI dosage code and its text (内服・経口・１日３回朝昼夕食後); TQ1-11
    -- a dosage comment.
    timing_code TEXT NOT NULL,
    timing_text TEXT NOT NULL,
    instructions TEXT NOT NULL,
    -- TQ1-6 days (regular drugs), TQ1-14 number of doses (as-needed drugs).
    days BIGINT,
    total_occurrences BIGINT,
    -- Total dispensed (RXE-10 / RXO-11) with its unit.
    dispense_amount TEXT NOT NULL,
    dispense_unit TEXT NOT NULL,
    -- When it was prescribed (ORC-9, else ORC-15, else TQ1-7, else the storage's day).
    prescribed_at TEXT NOT NULL,
    -- TQ1-7 and TQ1-8 as dates (YYYY-MM-DD, Japan time).
    start_date TEXT,
    end_date TEXT,
    -- ORC-12, ORC-17 (department) and ORC-21 (ordering facility, name and code).
    prescriber_id TEXT NOT NULL,
    prescriber_name TEXT NOT NULL,
    department TEXT NOT NULL,
    ordering_facility TEXT NOT NULL,
    ordering_facility_code TEXT NOT NULL,
    -- Provenance: the file (its SHA-256, as in import_files) and the segment in it.
    source_sha256 TEXT NOT NULL,
    source_segment BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX prescriptions_by_date ON prescriptions (patient_id, prescribed_at);
