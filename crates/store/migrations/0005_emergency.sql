-- Emergency (break-the-glass) access: a person outside the care team opens one chart
-- for a limited time after stating a reason (DOMAIN.md §4). Append-only: an access is
-- never shortened, extended or removed; it simply expires.
CREATE TABLE emergency_access (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    reason TEXT NOT NULL,
    started_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX emergency_access_user ON emergency_access (user_id, expires_at);
CREATE INDEX emergency_access_started ON emergency_access (started_at);
