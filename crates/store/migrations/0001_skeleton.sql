-- Organizations, people, sessions, the patient registry, care teams, consent, audit.
-- Portable SQL for SQLite and PostgreSQL: ids and times are TEXT (times as fixed-width
-- RFC 3339 UTC, which sort as time), integers BIGINT, flags BIGINT 0/1.
-- Every table holding patient data carries patient_id first in its key or leading
-- index, so the schema can be distributed by patient (docs/scaling.md).

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    code TEXT UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL DEFAULT '',
    postal_code TEXT,
    address TEXT,
    phone TEXT,
    night_phone TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    home_visits BIGINT NOT NULL DEFAULT 0,
    support_24h BIGINT NOT NULL DEFAULT 0,
    palliative_care BIGINT NOT NULL DEFAULT 0,
    opioid_dispensing BIGINT NOT NULL DEFAULT 0,
    accepts_new_patients BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    name_kana TEXT NOT NULL DEFAULT '',
    profession TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    operator BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_signin_at TEXT
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    org_admin BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_org ON memberships (org_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE signin_failures (
    id TEXT PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX signin_failures_key ON signin_failures (throttle_key, at);

CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    owner_org_id TEXT NOT NULL REFERENCES organizations(id),
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_kana TEXT NOT NULL,
    given_kana TEXT NOT NULL,
    kana_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    postal_code TEXT,
    address TEXT,
    phone TEXT,
    consent_status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id)
);
CREATE INDEX patients_kana ON patients (kana_key);
CREATE INDEX patients_birth ON patients (birth_date, kana_key);
CREATE INDEX patients_owner ON patients (owner_org_id);

CREATE TABLE patient_identifiers (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    local_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, org_id, local_id),
    CONSTRAINT patient_identifiers_local_id_taken UNIQUE (org_id, local_id)
);

CREATE TABLE key_persons (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    relation TEXT NOT NULL,
    phone TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, id)
);

-- Membership of an organization in a patient's care team. Rows are never deleted:
-- leaving sets ended_at, and re-joining adds a new row.
CREATE TABLE care_team (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    role TEXT NOT NULL,
    since TEXT NOT NULL,
    added_by TEXT NOT NULL REFERENCES users(id),
    ended_at TEXT,
    ended_by TEXT REFERENCES users(id),
    end_reason TEXT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX care_team_org ON care_team (org_id, patient_id);

-- Consent to regional sharing: an append-only history; the latest row is in force.
CREATE TABLE consents (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    obtained_by TEXT,
    note TEXT,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);

-- The audit chain: every read and write of patient data, every sign-in and refusal.
-- Each row's hash covers its fields and the previous row's hash.
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user TEXT,
    actor_org TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    patient_id TEXT,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    ip TEXT,
    request_id TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_patient ON audit (patient_id, seq);
CREATE INDEX audit_action ON audit (action, target, at);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
