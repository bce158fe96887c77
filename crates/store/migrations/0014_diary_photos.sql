-- A photo with a home diary entry (a wound, a rash, a swollen leg), taken by the
-- family. The bytes live in the object store like chart attachments, addressed by
-- SHA-256; backups copy them (Store::system_attachment_hashes). Append-only.
CREATE TABLE diary_photos (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    entry_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, entry_id)
);
