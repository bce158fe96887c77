-- Letters between organizations: referral letters, visiting-nurse instructions and
-- replies (DOMAIN.md §5). Sending a letter adds its recipient to the care team.
-- `letters` holds the header and the current state; the content of every save is in
-- `letter_versions` and every change of state in `letter_events`, both append-only,
-- so a sent letter can always be shown exactly as it was sent.

CREATE TABLE letters (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    from_org_id TEXT NOT NULL REFERENCES organizations(id),
    from_user_id TEXT NOT NULL REFERENCES users(id),
    to_org_id TEXT NOT NULL REFERENCES organizations(id),
    to_person TEXT,
    recipient_role TEXT NOT NULL,
    in_reply_to TEXT,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    -- The chart document holding the letter's PDF, once stored.
    document_entry_id TEXT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX letters_to ON letters (to_org_id, state, sent_at);
CREATE INDEX letters_from ON letters (from_org_id, state, sent_at);
CREATE INDEX letters_reply ON letters (patient_id, in_reply_to);

CREATE TABLE letter_versions (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    letter_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- JSON: recipient, role, body and attached chart documents as saved.
    content TEXT NOT NULL,
    saved_by TEXT NOT NULL REFERENCES users(id),
    saved_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (patient_id, id),
    CONSTRAINT letter_versions_taken UNIQUE (patient_id, letter_id, version)
);

CREATE TABLE letter_events (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    letter_id TEXT NOT NULL,
    event TEXT NOT NULL,
    state_after TEXT NOT NULL,
    by_user TEXT NOT NULL REFERENCES users(id),
    by_org TEXT NOT NULL REFERENCES organizations(id),
    at TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX letter_events_letter ON letter_events (patient_id, letter_id, at);
