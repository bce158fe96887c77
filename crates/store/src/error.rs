use tsunagu_domain::Invalid;

/// Errors of the storage layer. Database detail stays in the log; the HTTP layer maps
/// these to statuses and catalogue messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Missing, or outside the caller's reach: the two must look the same.
    #[error("not found")]
    NotFound,
    /// A named constraint refused the write (e.g. a local id already taken).
    #[error("conflict on {field}")]
    Conflict { field: &'static str, key: &'static str },
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The action is known and allowed to be asked for, but this principal may not.
    #[error("forbidden")]
    Forbidden,
    #[error("the database schema is version {found}, newer than this program ({supported}); upgrade tsunagu")]
    SchemaNewer { found: i64, supported: i64 },
    #[error("no database at {0}; run `tsunagu migrate` to create one, or check the path")]
    DatabaseMissing(String),
    #[error("unsupported database URL (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// The operation does not apply to this database.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Map named unique constraints to a field error; everything else stays a DB error.
    pub(crate) fn from_write(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message();
            let constraint = db.constraint().unwrap_or("");
            if constraint == "patient_identifiers_local_id_taken"
                || msg.contains("patient_identifiers.org_id, patient_identifiers.local_id")
            {
                return StoreError::Conflict { field: "local_id", key: "err-local-id-taken" };
            }
            if constraint == "users_email_key" || msg.contains("users.email") {
                return StoreError::Conflict { field: "email", key: "err-email-taken" };
            }
            if constraint == "organizations_code_key" || msg.contains("organizations.code") {
                return StoreError::Conflict { field: "code", key: "err-code-taken" };
            }
            // Any other key taken: someone else wrote the same next version or event
            // first. The caller names the field; the change is refused, never merged.
            if db.is_unique_violation() {
                return StoreError::Conflict { field: "record", key: "err-changed-meanwhile" };
            }
        }
        StoreError::Db(e)
    }
}
