-- The region's programme (DOMAIN.md §8).
-- Specialist palliative care a patient received, counted on the dashboard; an entry made
-- in error is marked (a mark row), never removed. Keyed by patient like every clinical table.
CREATE TABLE care_contacts (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    note TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_org TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX care_contacts_day ON care_contacts (occurred_on, kind);
CREATE TABLE care_contact_marks (
    patient_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    marked_at TEXT NOT NULL,
    marked_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, contact_id),
    FOREIGN KEY (patient_id, contact_id) REFERENCES care_contacts (patient_id, id)
);
-- A symptom assessment entered in error (the wrong patient, a mistyped score): marked,
-- left out of the trend and the figures, still shown struck through.
CREATE TABLE assessment_marks (
    patient_id TEXT NOT NULL,
    assessment_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    marked_at TEXT NOT NULL,
    marked_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, assessment_id),
    FOREIGN KEY (patient_id, assessment_id) REFERENCES symptom_assessments (patient_id, id)
);
-- Sessions and meetings under the four pillars, with attendance by profession and
-- organization (org_id empty for people from outside the network, profession empty
-- for citizens). Recorded in error: a mark row.
CREATE TABLE programme_activities (
    id TEXT PRIMARY KEY,
    pillar TEXT NOT NULL,
    kind TEXT NOT NULL,
    held_on TEXT NOT NULL,
    topic TEXT NOT NULL,
    organizer_org TEXT NOT NULL REFERENCES organizations(id),
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX programme_activities_day ON programme_activities (held_on);
CREATE TABLE programme_attendance (
    activity_id TEXT NOT NULL REFERENCES programme_activities(id),
    line BIGINT NOT NULL,
    profession TEXT NOT NULL,
    org_id TEXT NOT NULL,
    attendees BIGINT NOT NULL,
    PRIMARY KEY (activity_id, line)
);
CREATE TABLE programme_activity_marks (
    activity_id TEXT PRIMARY KEY REFERENCES programme_activities(id),
    reason TEXT NOT NULL,
    marked_at TEXT NOT NULL,
    marked_by TEXT NOT NULL REFERENCES users(id)
);
-- Action plans per fiscal year; every change of status, owner or due date is a version.
CREATE TABLE action_plan_versions (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    fiscal_year BIGINT NOT NULL,
    pillar TEXT NOT NULL,
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    due_on TEXT NOT NULL,
    status TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX action_plan_versions_year ON action_plan_versions (fiscal_year);
