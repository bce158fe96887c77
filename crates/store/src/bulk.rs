//! Bulk loading of synthetic data (`tsunagu generate`, issue #9): many rows per INSERT,
//! many INSERTs per transaction, on one connection held for the whole load.
//!
//! A system path, named so: it bypasses the access policy and writes no audit record
//! per row, because what it writes is a synthetic load, not anyone's activity. The
//! caller appends one audit record for the load as a whole ([`BulkBatch::audit`]), in
//! the transaction of the rows it describes, so the chain still verifies and says that
//! the database holds generated data.
//!
//! The store owns the SQL: a caller names a [`BulkTable`] and hands over values in the
//! order of [`BulkTable::columns`]; table and column names never come from outside. The
//! multi-row writing ([`insert_rows`]) and the chunked look-ups ([`rows_for_keys`]) also
//! serve the SS-MIX2 import and the registration of a FHIR transaction's patients,
//! which are not system paths: they check and audit every file or patient themselves.
//! Content hashes are computed by the same functions the ordinary writes use
//! ([`entry_content_hash`], [`letter_content_hash`]).
//!
//! For the load only, SQLite runs with `synchronous = OFF` and a large page cache (WAL
//! stays on; a crash loses the generated rows, never the file), PostgreSQL with
//! `synchronous_commit = off`; [`BulkLoader::finish`] puts the connection back as the
//! pool made it.

use crate::audit::{AuditCtx, AuditEvent};
use crate::db::{Backend, Store};
use crate::{Result, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Connection, Executor, Row};
use tsunagu_domain::OrgId;
use tsunagu_domain::patient::{NewPatient, TeamRole};

/// SQLite's default limit of bound variables per statement (SQLITE_MAX_VARIABLE_NUMBER
/// since 3.32).
const SQLITE_MAX_PARAMS: usize = 32_766;
/// PostgreSQL counts parameters in a 16-bit field (65,535); a margin below it.
const POSTGRES_MAX_PARAMS: usize = 60_000;

/// The tables a bulk load may write, each with the columns it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BulkTable {
    Organizations,
    Users,
    Memberships,
    Patients,
    PatientVersions,
    PatientIdentifiers,
    KeyPersons,
    CareTeam,
    Consents,
    Letters,
    LetterVersions,
    LetterEvents,
    Entries,
    EntryMarks,
    Mentions,
    Attachments,
    LabResults,
    Prescriptions,
    ImportFiles,
}

impl BulkTable {
    /// In an order that satisfies the foreign keys: a batch writes its tables in this order.
    pub const ALL: [BulkTable; 19] = [
        BulkTable::Organizations,
        BulkTable::Users,
        BulkTable::Memberships,
        BulkTable::Patients,
        BulkTable::PatientVersions,
        BulkTable::PatientIdentifiers,
        BulkTable::KeyPersons,
        BulkTable::CareTeam,
        BulkTable::Consents,
        BulkTable::Letters,
        BulkTable::LetterVersions,
        BulkTable::LetterEvents,
        BulkTable::Entries,
        BulkTable::EntryMarks,
        BulkTable::Mentions,
        BulkTable::Attachments,
        BulkTable::LabResults,
        BulkTable::Prescriptions,
        BulkTable::ImportFiles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BulkTable::Organizations => "organizations",
            BulkTable::Users => "users",
            BulkTable::Memberships => "memberships",
            BulkTable::Patients => "patients",
            BulkTable::PatientVersions => "patient_versions",
            BulkTable::PatientIdentifiers => "patient_identifiers",
            BulkTable::KeyPersons => "key_persons",
            BulkTable::CareTeam => "care_team",
            BulkTable::Consents => "consents",
            BulkTable::Letters => "letters",
            BulkTable::LetterVersions => "letter_versions",
            BulkTable::LetterEvents => "letter_events",
            BulkTable::Entries => "entries",
            BulkTable::EntryMarks => "entry_marks",
            BulkTable::Mentions => "mentions",
            BulkTable::Attachments => "attachments",
            BulkTable::LabResults => "lab_results",
            BulkTable::Prescriptions => "prescriptions",
            BulkTable::ImportFiles => "import_files",
        }
    }

    /// The columns a row gives values for, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            BulkTable::Organizations => &[
                "id",
                "code",
                "kind",
                "name",
                "name_kana",
                "postal_code",
                "address",
                "phone",
                "night_phone",
                "lat",
                "lon",
                "home_visits",
                "support_24h",
                "palliative_care",
                "opioid_dispensing",
                "accepts_new_patients",
                "status",
                "approved_at",
                "created_at",
                "updated_at",
                "visiting_area",
            ],
            BulkTable::Users => &[
                "id",
                "email",
                "display_name",
                "name_kana",
                "profession",
                "password_hash",
                "status",
                "operator",
                "created_at",
            ],
            BulkTable::Memberships => &["user_id", "org_id", "org_admin", "created_at"],
            BulkTable::Patients => &[
                "id",
                "owner_org_id",
                "family_name",
                "given_name",
                "family_kana",
                "given_kana",
                "kana_key",
                "name_key",
                "sex",
                "birth_date",
                "postal_code",
                "address",
                "phone",
                "consent_status",
                "created_at",
                "created_by",
            ],
            BulkTable::PatientVersions => &[
                "patient_id",
                "version",
                "family_name",
                "given_name",
                "family_kana",
                "given_kana",
                "sex",
                "birth_date",
                "postal_code",
                "address",
                "phone",
                "recorded_at",
                "recorded_by",
                "recorded_org",
                "via",
            ],
            BulkTable::PatientIdentifiers => &["patient_id", "org_id", "local_id", "created_at", "created_by"],
            BulkTable::KeyPersons => {
                &["patient_id", "id", "name", "relation", "phone", "note", "created_at", "created_by"]
            }
            BulkTable::CareTeam => &["patient_id", "id", "org_id", "role", "since", "added_by"],
            BulkTable::Consents => &["patient_id", "id", "status", "obtained_by", "note", "recorded_by", "recorded_at"],
            BulkTable::Letters => &[
                "patient_id",
                "id",
                "kind",
                "state",
                "from_org_id",
                "from_user_id",
                "to_org_id",
                "to_person",
                "recipient_role",
                "in_reply_to",
                "version",
                "created_at",
                "sent_at",
            ],
            BulkTable::LetterVersions => {
                &["patient_id", "id", "letter_id", "version", "content", "saved_by", "saved_at", "content_hash"]
            }
            BulkTable::LetterEvents => {
                &["patient_id", "id", "letter_id", "event", "state_after", "by_user", "by_org", "at", "note"]
            }
            BulkTable::Entries => &[
                "patient_id",
                "id",
                "entry_id",
                "version",
                "supersedes",
                "kind",
                "body",
                "search_text",
                "author_id",
                "author_org_id",
                "author_profession",
                "recorded_at",
                "entry_recorded_at",
                "correction_reason",
                "content_hash",
            ],
            BulkTable::EntryMarks => &[
                "patient_id",
                "id",
                "entry_id",
                "version_id",
                "mark",
                "reason",
                "by_user",
                "by_org",
                "at",
                "content_hash",
            ],
            BulkTable::Mentions => &["patient_id", "id", "entry_version_id", "user_id", "org_id", "at"],
            BulkTable::Attachments => {
                &["patient_id", "id", "sha256", "size", "media_type", "filename", "created_by", "created_at"]
            }
            BulkTable::LabResults => &[
                "patient_id",
                "id",
                "org_id",
                "code",
                "code_system",
                "name",
                "value_num",
                "value_text",
                "unit",
                "reference_range",
                "abnormal",
                "observed_at",
                "source_sha256",
                "imported_at",
            ],
            BulkTable::Prescriptions => &[
                "patient_id",
                "id",
                "org_id",
                "order_control",
                "order_number",
                "rp_number",
                "drug_code",
                "drug_code_system",
                "drug_alt_code",
                "drug_alt_code_system",
                "drug_name",
                "dose",
                "dose_unit",
                "daily_dose",
                "daily_dose_unit",
                "dosage_form",
                "route",
                "timing_code",
                "timing_text",
                "instructions",
                "days",
                "total_occurrences",
                "dispense_amount",
                "dispense_unit",
                "prescribed_at",
                "start_date",
                "end_date",
                "prescriber_id",
                "prescriber_name",
                "department",
                "ordering_facility",
                "ordering_facility_code",
                "source_sha256",
                "source_segment",
                "recorded_at",
            ],
            BulkTable::ImportFiles => &["org_id", "sha256", "patient_id", "path", "kind", "items", "imported_at"],
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// One value of a row, typed as the column is.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkValue {
    Text(String),
    Int(i64),
    Float(f64),
    /// NULL in a text column.
    NullText,
    /// NULL in a floating-point column.
    NullFloat,
    /// NULL in an integer column.
    NullInt,
}

impl From<String> for BulkValue {
    fn from(s: String) -> Self {
        BulkValue::Text(s)
    }
}

impl From<&str> for BulkValue {
    fn from(s: &str) -> Self {
        BulkValue::Text(s.to_string())
    }
}

impl From<Option<String>> for BulkValue {
    fn from(s: Option<String>) -> Self {
        s.map_or(BulkValue::NullText, BulkValue::Text)
    }
}

impl From<Option<&str>> for BulkValue {
    fn from(s: Option<&str>) -> Self {
        s.map_or(BulkValue::NullText, |s| BulkValue::Text(s.to_string()))
    }
}

impl From<i64> for BulkValue {
    fn from(v: i64) -> Self {
        BulkValue::Int(v)
    }
}

impl From<Option<i64>> for BulkValue {
    fn from(v: Option<i64>) -> Self {
        v.map_or(BulkValue::NullInt, BulkValue::Int)
    }
}

impl From<bool> for BulkValue {
    fn from(v: bool) -> Self {
        BulkValue::Int(i64::from(v))
    }
}

impl From<Option<f64>> for BulkValue {
    fn from(v: Option<f64>) -> Self {
        v.map_or(BulkValue::NullFloat, BulkValue::Float)
    }
}

/// Who, when and how a patient is registered, for [`BulkBatch::push_registration`]: ids
/// and the time as stored (hyphenated uuids, [`crate::ts`] text).
#[derive(Debug, Clone, Copy)]
pub struct RegistrationRows<'a> {
    pub patient: &'a str,
    /// The id of the owner's team row.
    pub team_row: &'a str,
    /// The owning organization, which registers the patient.
    pub owner: &'a str,
    /// The user who registers.
    pub by: &'a str,
    pub at: &'a str,
    /// The registry row's consent state (`not_recorded` until a consent is recorded).
    pub consent: &'a str,
    /// The path that wrote version 1 (`register`, `fhir`, `generate`).
    pub via: &'a str,
}

/// Rows for several tables, written together in one transaction, tables in the order of
/// [`BulkTable::ALL`], then the audit records.
#[derive(Debug, Default)]
pub struct BulkBatch {
    /// Per table (by position in [`BulkTable::ALL`]), the values of its rows, row after row.
    values: Vec<Vec<BulkValue>>,
    audit: Vec<AuditEvent>,
}

impl BulkBatch {
    pub fn new() -> Self {
        Self { values: vec![Vec::new(); BulkTable::ALL.len()], audit: Vec::new() }
    }

    /// Add one row; `row` must hold one value per column of the table.
    pub fn push<const N: usize>(&mut self, table: BulkTable, row: [BulkValue; N]) -> Result<()> {
        if N != table.columns().len() {
            return Err(StoreError::Corrupt(format!(
                "a bulk row for {} has {N} values for {} columns",
                table.name(),
                table.columns().len()
            )));
        }
        if let Some(v) = self.values.get_mut(table.index()) {
            v.extend(row);
        }
        Ok(())
    }

    /// The rows that register a patient: the registry row, version 1 of the
    /// demographics, the owner's local id (when it has one) and the owner's team row. One
    /// shape for every path that registers in bulk: the creates of a FHIR transaction and
    /// the synthetic prefecture (`tsunagu generate`).
    pub fn push_registration(&mut self, p: &NewPatient, r: &RegistrationRows<'_>) -> Result<()> {
        let birth = p.birth_date.to_string();
        self.push(
            BulkTable::Patients,
            [
                r.patient.into(),
                r.owner.into(),
                p.family_name.as_str().into(),
                p.given_name.as_str().into(),
                p.family_kana.as_str().into(),
                p.given_kana.as_str().into(),
                p.kana_key().into(),
                p.name_key().into(),
                p.sex.as_str().into(),
                birth.as_str().into(),
                p.postal_code.as_deref().into(),
                p.address.as_deref().into(),
                p.phone.as_deref().into(),
                r.consent.into(),
                r.at.into(),
                r.by.into(),
            ],
        )?;
        // Version 1 of the demographics (migration 0016): what the FHIR API reads.
        self.push(
            BulkTable::PatientVersions,
            [
                r.patient.into(),
                1i64.into(),
                p.family_name.as_str().into(),
                p.given_name.as_str().into(),
                p.family_kana.as_str().into(),
                p.given_kana.as_str().into(),
                p.sex.as_str().into(),
                birth.into(),
                p.postal_code.as_deref().into(),
                p.address.as_deref().into(),
                p.phone.as_deref().into(),
                r.at.into(),
                r.by.into(),
                r.owner.into(),
                r.via.into(),
            ],
        )?;
        if let Some(local) = &p.local_id {
            self.push(
                BulkTable::PatientIdentifiers,
                [r.patient.into(), r.owner.into(), local.as_str().into(), r.at.into(), r.by.into()],
            )?;
        }
        self.push(
            BulkTable::CareTeam,
            [
                r.patient.into(),
                r.team_row.into(),
                r.owner.into(),
                TeamRole::Owner.as_str().into(),
                r.at.into(),
                r.by.into(),
            ],
        )
    }

    /// Append an audit record after the batch's rows, in the same transaction.
    pub fn audit(&mut self, ev: AuditEvent) {
        self.audit.push(ev);
    }

    /// Rows held for `table`.
    pub fn rows(&self, table: BulkTable) -> usize {
        self.values.get(table.index()).map_or(0, |v| v.len() / table.columns().len().max(1))
    }

    /// Rows held in every table.
    pub fn total_rows(&self) -> usize {
        BulkTable::ALL.iter().map(|t| self.rows(*t)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total_rows() == 0 && self.audit.is_empty()
    }
}

/// A connection of its own, from [`Store::system_bulk_loader`] to
/// [`BulkLoader::finish`], tuned for loading and without statement logging. On SQLite it
/// also holds the store's one writer connection, so that nothing else in the process
/// writes meanwhile.
pub struct BulkLoader {
    store: Store,
    conn: AnyConnection,
    _writer: Option<PoolConnection<Any>>,
    ctx: AuditCtx,
}

impl std::fmt::Debug for BulkLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoader").field("backend", &self.store.backend).finish()
    }
}

/// Rows already in the tables that say whether a database is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataCounts {
    pub organizations: i64,
    pub users: i64,
    pub patients: i64,
}

impl DataCounts {
    pub fn is_empty(&self) -> bool {
        self.organizations == 0 && self.users == 0 && self.patients == 0
    }
}

impl Store {
    /// How many organizations, people and patients the database holds (a bulk load
    /// refuses a database that holds any).
    pub async fn system_data_counts(&self) -> Result<DataCounts> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM organizations) AS o, (SELECT COUNT(*) FROM users) AS u, \
             (SELECT COUNT(*) FROM patients) AS p",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(DataCounts { organizations: r.try_get("o")?, users: r.try_get("u")?, patients: r.try_get("p")? })
    }

    /// Open the connection of a bulk load, tuned for loading (see the module
    /// documentation). On SQLite the store's writer is held until
    /// [`BulkLoader::finish`] (other writes of this store wait); on PostgreSQL they go on.
    pub async fn system_bulk_loader(&self, ctx: AuditCtx) -> Result<BulkLoader> {
        let writer = match self.backend {
            Backend::Sqlite => Some(self.write.acquire().await?),
            Backend::Postgres => None,
        };
        let mut conn = AnyConnection::connect_with(&self.bulk_opts).await?;
        match self.backend {
            Backend::Sqlite => {
                // As every connection of the store (db.rs), then relaxed for the load.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA synchronous = OFF").await?;
                // 512 MiB of page cache: the indexes of a million patients stay in memory.
                conn.execute("PRAGMA cache_size = -524288").await?;
                conn.execute("PRAGMA temp_store = MEMORY").await?;
            }
            Backend::Postgres => {
                conn.execute("SET synchronous_commit = off").await?;
            }
        }
        Ok(BulkLoader { store: self.clone(), conn, _writer: writer, ctx })
    }
}

impl BulkLoader {
    /// Write a batch in one transaction: every table's rows in multi-row INSERTs as large
    /// as the database's parameter limit allows ([`insert_rows`]), then its audit
    /// records. All or nothing.
    pub async fn write(&mut self, batch: &BulkBatch) -> Result<()> {
        let mut tx = self.conn.begin().await?;
        insert_rows(&mut tx, batch).await?;
        let at = crate::db::ts(self.store.now());
        let audit: Vec<_> =
            batch.audit.iter().map(|ev| crate::audit::Appending { ev, ctx: &self.ctx, at: &at }).collect();
        crate::audit::append_rows(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// End the load: derive the name search's grams of every loaded patient
    /// ([`crate::name_grams`]). Then, on SQLite, fold the write-ahead log back into the database file
    /// (with a full sync: from here on the data is as durable as any); on PostgreSQL,
    /// vacuum and update the planner's statistics (what autovacuum would do soon after a
    /// load this size). The connection closes; the store's own connections never saw the relaxed
    /// settings.
    pub async fn finish(mut self) -> Result<()> {
        crate::name_grams::fill_all(&mut self.conn).await?;
        match self.store.backend {
            Backend::Sqlite => {
                self.conn.execute("PRAGMA synchronous = FULL").await?;
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
            }
            Backend::Postgres => {
                // VACUUM as well as ANALYZE: a bulk-loaded table has no visibility map
                // until a vacuum, and without it PostgreSQL reads the heap where a
                // covering index would do (an organization's own patients for a kana
                // search: 120-140 ms instead of a few, bench/results/scale.md).
                // Simple protocol: VACUUM refuses to run inside any transaction block.
                sqlx::raw_sql("VACUUM (ANALYZE)").execute(&mut self.conn).await?;
            }
        }
        self.conn.close().await?;
        Ok(())
    }
}

/// Write every table's rows of `batch` in the transaction of `conn`, in multi-row
/// INSERTs as large as the database's parameter limit allows (its audit records are the
/// caller's). Used by the bulk load and by the SS-MIX2 import ([`Store::import_files`]).
///
/// Statements hold a power of two of rows (the largest that fits, then the binary
/// digits of the rest), so that a table is written with a dozen distinct statements at
/// most, each prepared once and then taken from the connection's cache.
pub(crate) async fn insert_rows(conn: &mut AnyConnection, batch: &BulkBatch) -> Result<()> {
    let placeholders = Placeholders::of(conn);
    let max_params = match placeholders {
        Placeholders::Anonymous => SQLITE_MAX_PARAMS,
        Placeholders::Numbered => POSTGRES_MAX_PARAMS,
    };
    for table in BulkTable::ALL {
        let Some(values) = batch.values.get(table.index()) else { continue };
        let cols = table.columns().len();
        let max_rows = prev_power_of_two((max_params / cols).max(1));
        let mut rest = values.as_slice();
        while !rest.is_empty() {
            let rows = prev_power_of_two((rest.len() / cols).min(max_rows)).max(1);
            let (chunk, tail) = rest.split_at((rows * cols).min(rest.len()));
            rest = tail;
            let sql = insert_sql(table, rows, placeholders);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for v in chunk {
                q = match v {
                    BulkValue::Text(s) => q.bind(s.as_str()),
                    BulkValue::Int(i) => q.bind(*i),
                    BulkValue::Float(f) => q.bind(*f),
                    BulkValue::NullText => q.bind(None::<String>),
                    BulkValue::NullFloat => q.bind(None::<f64>),
                    BulkValue::NullInt => q.bind(None::<i64>),
                };
            }
            q.execute(&mut *conn).await.map_err(StoreError::from_write)?;
        }
    }
    Ok(())
}

/// Keys looked up with one `IN` list per statement at most.
pub(crate) const KEYS_PER_LOOKUP: usize = 500;

/// The rows of `select` (a constant ending in the key column, with `$1` for the
/// organization) for keys `IN` the list, [`KEYS_PER_LOOKUP`] keys per statement.
pub(crate) async fn rows_for_keys(
    conn: &mut AnyConnection,
    select: &'static str,
    org: OrgId,
    keys: &[&str],
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
        // Numbered even on SQLite: a few hundred names are cheap to look up, and `$1` is
        // already the organization.
        let sql = format!("{select} IN {}", Placeholders::Numbered.rows_from(2, 1, chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string());
        for k in chunk {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// The largest power of two not above `n` (1 for 0).
fn prev_power_of_two(n: usize) -> usize {
    if n <= 1 { 1 } else { 1 << (usize::BITS - 1 - n.leading_zeros()) }
}

/// How a statement names its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholders {
    /// `$1, $2, ...` (PostgreSQL)
    Numbered,
    /// `?, ?, ...` (SQLite)
    Anonymous,
}

impl Placeholders {
    /// Plain `?` on SQLite: for a numbered parameter (`$N`, `?N`) the driver asks SQLite
    /// its name before binding, and SQLite finds it by walking the list of names, which
    /// makes binding a statement of thousands of them quadratic. PostgreSQL numbers them.
    pub(crate) fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Placeholders::Numbered
        } else {
            Placeholders::Anonymous
        }
    }

    /// `(…), (…)`: `rows` tuples of `cols` parameters, numbered from 1.
    pub(crate) fn rows(self, rows: usize, cols: usize) -> String {
        self.rows_from(1, rows, cols)
    }

    /// As [`Placeholders::rows`], numbered from `first` (after parameters of the
    /// statement's own; `rows_from(2, 1, n)` is the `IN` list after `$1`).
    pub(crate) fn rows_from(self, first: usize, rows: usize, cols: usize) -> String {
        let mut sql = String::with_capacity(rows * cols * 6);
        let mut n = first;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols {
                if c > 0 {
                    sql.push_str(", ");
                }
                match self {
                    Placeholders::Numbered => {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                    Placeholders::Anonymous => sql.push('?'),
                }
                n += 1;
            }
            sql.push(')');
        }
        sql
    }
}

/// `INSERT INTO table (columns) VALUES ($1, ...), (...)` for `rows` rows.
fn insert_sql(table: BulkTable, rows: usize, placeholders: Placeholders) -> String {
    let cols = table.columns();
    format!("INSERT INTO {} ({}) VALUES {}", table.name(), cols.join(", "), placeholders.rows(rows, cols.len()))
}

/// The content hash the store gives a version of a chart entry (see
/// [`Store::add_entry`]); for an "entered in error" mark, `body` is
/// `entered_in_error:{reason}` and `supersedes` the marked version.
#[allow(clippy::too_many_arguments)]
pub fn entry_content_hash(
    patient: &str,
    entry_id: &str,
    version: i64,
    supersedes: Option<&str>,
    body: &str,
    author: &str,
    org: &str,
    at: &str,
) -> String {
    crate::chart::content_hash(patient, entry_id, version, supersedes, body, author, org, at)
}

/// The content hash the store gives a saved version of a letter.
pub fn letter_content_hash(patient: &str, letter: &str, version: i64, content: &str, by: &str, at: &str) -> String {
    crate::letters::content_hash(patient, letter, version, content, by, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_every_placeholder() {
        let sql = insert_sql(BulkTable::Memberships, 2, Placeholders::Numbered);
        assert_eq!(
            sql,
            "INSERT INTO memberships (user_id, org_id, org_admin, created_at) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)"
        );
        assert!(
            insert_sql(BulkTable::Memberships, 2, Placeholders::Anonymous)
                .ends_with("VALUES (?, ?, ?, ?), (?, ?, ?, ?)")
        );
        assert_eq!(Placeholders::Numbered.rows_from(2, 1, 3), "($2, $3, $4)", "an IN list after $1");
    }

    #[test]
    fn statements_hold_a_power_of_two_of_rows() {
        assert_eq!([0, 1, 2, 3, 1000, 1024, 2047].map(prev_power_of_two), [1, 1, 2, 2, 512, 1024, 1024]);
    }

    #[test]
    fn a_row_of_the_wrong_width_is_refused() {
        let mut b = BulkBatch::new();
        assert!(b.push(BulkTable::Memberships, ["a".into(), "b".into()]).is_err());
        b.push(BulkTable::Memberships, ["u".into(), "o".into(), false.into(), "t".into()]).unwrap();
        assert_eq!(b.rows(BulkTable::Memberships), 1);
        assert_eq!(b.total_rows(), 1);
    }

    #[test]
    fn every_table_fits_the_parameter_limits() {
        for t in BulkTable::ALL {
            // A statement holds hundreds of rows on either database.
            assert!(SQLITE_MAX_PARAMS / t.columns().len() >= 512, "{}", t.name());
            assert_eq!(BulkTable::ALL[t.index()], t);
        }
    }
}
