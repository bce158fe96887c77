-- Patients and families take part (issue #10): family and patient accounts, a kind of
-- principal apart from staff (they are not users and can never hold a staff session),
-- the home diary, the family thread, scheduled visits, and e-mail notifications.
-- Clinical and account records are append-only; ending something is a new row.

-- A one-time link a team member gives a patient or a family member.
CREATE TABLE family_invitations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    -- The name as the team wrote it, and the relation to the patient ('self' for the
    -- patient).
    invitee TEXT NOT NULL,
    relation TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_org TEXT NOT NULL REFERENCES organizations(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX family_invitations_patient ON family_invitations (patient_id, created_at);
CREATE TABLE family_invitation_revocations (
    invitation_id TEXT PRIMARY KEY REFERENCES family_invitations(id),
    revoked_at TEXT NOT NULL,
    revoked_by TEXT NOT NULL REFERENCES users(id)
);
-- The account an accepted invitation made: bound to one patient for good.
CREATE TABLE family_accounts (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    invitation_id TEXT NOT NULL UNIQUE REFERENCES family_invitations(id),
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    relation TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX family_accounts_patient ON family_accounts (patient_id);
-- The team ends an account's access (the family member left, the patient died).
CREATE TABLE family_account_ends (
    account_id TEXT PRIMARY KEY REFERENCES family_accounts(id),
    ended_at TEXT NOT NULL,
    ended_by TEXT NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL
);
-- Sessions of family accounts, apart from staff sessions. Not clinical: deleted at
-- sign-out.
CREATE TABLE family_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES family_accounts(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX family_sessions_account ON family_sessions (account_id);

-- The home diary: ratings 0-10 (pain, breathlessness, sleep trouble), a rescue dose
-- with its time, a free note. `alert` is whether a rating reached the threshold when
-- it was written (the threshold of that moment, kept with the entry).
CREATE TABLE diary_entries (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES family_accounts(id),
    observed_at TEXT NOT NULL,
    pain BIGINT,
    breathlessness BIGINT,
    sleep BIGINT,
    rescue_drug TEXT,
    rescue_at TEXT,
    note TEXT NOT NULL,
    alert BIGINT NOT NULL,
    threshold BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX diary_entries_time ON diary_entries (patient_id, observed_at);
CREATE INDEX diary_entries_alert ON diary_entries (alert, recorded_at);
-- The family marks its own entry as a mistake; the entry stays.
CREATE TABLE diary_marks (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    entry_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES family_accounts(id),
    reason TEXT NOT NULL,
    marked_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, entry_id)
);
-- An organization on the team has seen a diary alert.
CREATE TABLE diary_alert_acks (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    entry_id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    acked_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, entry_id, org_id)
);

-- The family thread: between the family and the team, apart from the professionals'
-- discussion. Exactly one of (account_id) or (user_id, org_id) is the author.
CREATE TABLE family_messages (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    account_id TEXT REFERENCES family_accounts(id),
    user_id TEXT REFERENCES users(id),
    org_id TEXT REFERENCES organizations(id),
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX family_messages_time ON family_messages (patient_id, sent_at);

-- Visits the team scheduled at the patient's home.
CREATE TABLE visits (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    -- The professional who goes, if named.
    user_id TEXT REFERENCES users(id),
    profession TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    note TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX visits_org_time ON visits (org_id, starts_at);
CREATE INDEX visits_patient_time ON visits (patient_id, starts_at);
CREATE TABLE visit_cancellations (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    visit_id TEXT NOT NULL,
    cancelled_by TEXT NOT NULL REFERENCES users(id),
    cancelled_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, visit_id)
);

-- Documents on the chart the team chose to show the family.
CREATE TABLE family_shares (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    attachment_id TEXT NOT NULL,
    shared_by TEXT NOT NULL REFERENCES users(id),
    shared_org TEXT NOT NULL REFERENCES organizations(id),
    shared_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, attachment_id)
);

-- What each person wants by e-mail, per category: off, immediately or a daily digest.
-- A setting, overwritten.
CREATE TABLE notification_prefs (
    user_id TEXT NOT NULL REFERENCES users(id),
    category TEXT NOT NULL,
    frequency TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, category)
);
-- Mail waiting to go (or gone). Holds a category and a link, never clinical content.
-- `digest` mail waits for the day's digest; the sender marks what it sent.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    category TEXT NOT NULL,
    link TEXT NOT NULL,
    digest BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX mail_outbox_pending ON mail_outbox (sent_at, digest, created_at);
