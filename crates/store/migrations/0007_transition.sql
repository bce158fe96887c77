-- From hospital to home (DOMAIN.md §6): inpatients a hospital flags as possibly able
-- to go home, the transition case once discharge is decided, its checklist, the
-- discharge conference and its sheet. Everything is keyed by patient first and is
-- append-only: a candidate's changes are versions, a case's and a task's progress are
-- events (a task done and then reopened keeps both), a sheet's edits are versions.

CREATE TABLE discharge_candidates (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX discharge_candidates_org ON discharge_candidates (org_id, created_at);

CREATE TABLE candidate_versions (
    patient_id TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    ward TEXT NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    barriers TEXT NOT NULL,
    owner_user_id TEXT REFERENCES users(id),
    review_date TEXT,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, candidate_id, version),
    FOREIGN KEY (patient_id, candidate_id) REFERENCES discharge_candidates (patient_id, id)
);

CREATE TABLE transition_cases (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    hospital_org_id TEXT NOT NULL REFERENCES organizations(id),
    planned_discharge TEXT NOT NULL,
    home_lat DOUBLE PRECISION,
    home_lon DOUBLE PRECISION,
    wishes TEXT NOT NULL,
    wished_org_id TEXT REFERENCES organizations(id),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX transition_cases_org ON transition_cases (hospital_org_id, created_at);

-- kind: open, schedule_conference, hold_conference, discharge, start_home_care, end,
-- choose_home_physician, choose_visiting_nurse, choose_care_manager.
CREATE TABLE transition_events (
    patient_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    stage_after TEXT NOT NULL,
    org_id TEXT REFERENCES organizations(id),
    detail TEXT NOT NULL,
    at TEXT NOT NULL,
    by_user TEXT NOT NULL REFERENCES users(id),
    by_org TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (patient_id, case_id, seq),
    FOREIGN KEY (patient_id, case_id) REFERENCES transition_cases (patient_id, id)
);
CREATE INDEX transition_events_kind ON transition_events (kind, at);

CREATE TABLE transition_tasks (
    patient_id TEXT NOT NULL,
    id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    task_key TEXT NOT NULL,
    owner_user_id TEXT NOT NULL REFERENCES users(id),
    due_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id),
    FOREIGN KEY (patient_id, case_id) REFERENCES transition_cases (patient_id, id)
);
CREATE INDEX transition_tasks_owner ON transition_tasks (owner_user_id, due_date);

-- kind: done, reopen, assign (owner_user_id is the new owner).
CREATE TABLE task_events (
    patient_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    owner_user_id TEXT REFERENCES users(id),
    at TEXT NOT NULL,
    by_user TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, task_id, seq),
    FOREIGN KEY (patient_id, task_id) REFERENCES transition_tasks (patient_id, id)
);

CREATE TABLE conferences (
    patient_id TEXT NOT NULL,
    id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    place TEXT NOT NULL,
    participants TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, id),
    FOREIGN KEY (patient_id, case_id) REFERENCES transition_cases (patient_id, id)
);

CREATE TABLE conference_sheets (
    patient_id TEXT NOT NULL,
    conference_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (patient_id, conference_id, version),
    FOREIGN KEY (patient_id, conference_id) REFERENCES conferences (patient_id, id)
);

-- The regional resource directory: where each organization visits, kept by its own
-- administrator with its location and capabilities.
ALTER TABLE organizations ADD COLUMN visiting_area TEXT NOT NULL DEFAULT '';
