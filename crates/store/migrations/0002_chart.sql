-- The shared chart: entries written by every organization on the team.
-- Entries are never updated or deleted. A correction is a new row with the same
-- entry_id, the next version and `supersedes` pointing at the version it replaces;
-- "entered in error" is a mark in entry_marks. Every table is keyed by patient_id.

CREATE TABLE entries (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    supersedes TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    search_text TEXT NOT NULL,
    author_id TEXT NOT NULL REFERENCES users(id),
    author_org_id TEXT NOT NULL REFERENCES organizations(id),
    author_profession TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    -- When the entry was first written: the timeline keeps a corrected entry in place.
    entry_recorded_at TEXT NOT NULL,
    correction_reason TEXT,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (patient_id, id),
    CONSTRAINT entries_version_taken UNIQUE (patient_id, entry_id, version)
);
CREATE INDEX entries_timeline ON entries (patient_id, entry_recorded_at, entry_id);
CREATE INDEX entries_supersedes ON entries (patient_id, supersedes);
CREATE INDEX entries_recent ON entries (patient_id, recorded_at);

CREATE TABLE entry_marks (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    mark TEXT NOT NULL,
    reason TEXT NOT NULL,
    by_user TEXT NOT NULL REFERENCES users(id),
    by_org TEXT NOT NULL REFERENCES organizations(id),
    at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX entry_marks_entry ON entry_marks (patient_id, entry_id);

-- Files attached to entries; the bytes live in the object store, addressed by SHA-256.
CREATE TABLE attachments (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);

-- People and organizations mentioned in a thread message.
CREATE TABLE mentions (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    entry_version_id TEXT NOT NULL,
    user_id TEXT REFERENCES users(id),
    org_id TEXT REFERENCES organizations(id),
    at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX mentions_user ON mentions (user_id, at);
CREATE INDEX mentions_org ON mentions (org_id, at);

-- When a person last looked at a chart: drives unread counts and the inbox.
-- Not clinical data; it is overwritten.
CREATE TABLE chart_views (
    user_id TEXT NOT NULL REFERENCES users(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (user_id, patient_id)
);
