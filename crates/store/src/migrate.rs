//! Embedded migrations: one transaction per step, applied in order, recorded in
//! `schema_migrations`; a database newer than this program is refused, never touched.

use crate::db::{Backend, Store, ts};
use crate::{Result, StoreError};
use sqlx::Row;

struct Migration {
    version: i64,
    name: &'static str,
    /// SQL both databases run.
    common: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "skeleton",
        common: include_str!("../migrations/0001_skeleton.sql"),
        sqlite: include_str!("../migrations/0001_skeleton.sqlite.sql"),
        postgres: include_str!("../migrations/0001_skeleton.postgres.sql"),
    },
    Migration {
        version: 2,
        name: "chart",
        common: include_str!("../migrations/0002_chart.sql"),
        sqlite: include_str!("../migrations/0002_chart.sqlite.sql"),
        postgres: include_str!("../migrations/0002_chart.postgres.sql"),
    },
    Migration {
        version: 3,
        name: "one_error_mark_per_entry",
        common: include_str!("../migrations/0003_marks.sql"),
        sqlite: include_str!("../migrations/0003_marks.sqlite.sql"),
        postgres: include_str!("../migrations/0003_marks.postgres.sql"),
    },
    Migration {
        version: 4,
        name: "letters",
        common: include_str!("../migrations/0004_letters.sql"),
        sqlite: include_str!("../migrations/0004_letters.sqlite.sql"),
        postgres: include_str!("../migrations/0004_letters.postgres.sql"),
    },
    Migration {
        version: 5,
        name: "emergency_access",
        common: include_str!("../migrations/0005_emergency.sql"),
        sqlite: include_str!("../migrations/0005_emergency.sqlite.sql"),
        postgres: include_str!("../migrations/0005_emergency.postgres.sql"),
    },
    Migration {
        version: 6,
        name: "second_factor",
        common: include_str!("../migrations/0006_second_factor.sql"),
        sqlite: include_str!("../migrations/0006_second_factor.sqlite.sql"),
        postgres: include_str!("../migrations/0006_second_factor.postgres.sql"),
    },
    Migration {
        version: 7,
        name: "hospital_to_home",
        common: include_str!("../migrations/0007_transition.sql"),
        sqlite: include_str!("../migrations/0007_transition.sqlite.sql"),
        postgres: include_str!("../migrations/0007_transition.postgres.sql"),
    },
    Migration {
        version: 8,
        name: "advance_care_planning",
        common: include_str!("../migrations/0008_acp.sql"),
        sqlite: include_str!("../migrations/0008_acp.sqlite.sql"),
        postgres: include_str!("../migrations/0008_acp.postgres.sql"),
    },
    Migration {
        version: 9,
        name: "surveys",
        common: include_str!("../migrations/0009_surveys.sql"),
        sqlite: include_str!("../migrations/0009_surveys.sqlite.sql"),
        postgres: include_str!("../migrations/0009_surveys.postgres.sql"),
    },
    Migration {
        version: 10,
        name: "symptom_assessments",
        common: include_str!("../migrations/0010_symptoms.sql"),
        sqlite: include_str!("../migrations/0010_symptoms.sqlite.sql"),
        postgres: include_str!("../migrations/0010_symptoms.postgres.sql"),
    },
    Migration {
        version: 11,
        name: "programme",
        common: include_str!("../migrations/0011_programme.sql"),
        sqlite: include_str!("../migrations/0011_programme.sqlite.sql"),
        postgres: include_str!("../migrations/0011_programme.postgres.sql"),
    },
    Migration {
        version: 12,
        name: "passkeys",
        common: include_str!("../migrations/0012_passkeys.sql"),
        sqlite: include_str!("../migrations/0012_passkeys.sqlite.sql"),
        postgres: include_str!("../migrations/0012_passkeys.postgres.sql"),
    },
    Migration {
        version: 13,
        name: "family",
        common: include_str!("../migrations/0013_family.sql"),
        sqlite: include_str!("../migrations/0013_family.sqlite.sql"),
        postgres: include_str!("../migrations/0013_family.postgres.sql"),
    },
    Migration {
        version: 14,
        name: "diary_photos",
        common: include_str!("../migrations/0014_diary_photos.sql"),
        sqlite: include_str!("../migrations/0014_diary_photos.sqlite.sql"),
        postgres: include_str!("../migrations/0014_diary_photos.postgres.sql"),
    },
    Migration {
        version: 15,
        name: "lab_results",
        common: include_str!("../migrations/0015_labs.sql"),
        sqlite: include_str!("../migrations/0015_labs.sqlite.sql"),
        postgres: include_str!("../migrations/0015_labs.postgres.sql"),
    },
    Migration {
        version: 16,
        name: "fhir",
        common: include_str!("../migrations/0016_fhir.sql"),
        sqlite: include_str!("../migrations/0016_fhir.sqlite.sql"),
        postgres: include_str!("../migrations/0016_fhir.postgres.sql"),
    },
    Migration {
        version: 17,
        name: "prescriptions",
        common: include_str!("../migrations/0017_prescriptions.sql"),
        sqlite: include_str!("../migrations/0017_prescriptions.sqlite.sql"),
        postgres: include_str!("../migrations/0017_prescriptions.postgres.sql"),
    },
    Migration {
        version: 18,
        name: "fhir_lookups",
        common: include_str!("../migrations/0018_fhir_lookups.sql"),
        sqlite: include_str!("../migrations/0018_fhir_lookups.sqlite.sql"),
        postgres: include_str!("../migrations/0018_fhir_lookups.postgres.sql"),
    },
    Migration {
        version: 19,
        name: "fhir_lookups_letters",
        common: include_str!("../migrations/0019_fhir_lookups_letters.sql"),
        sqlite: include_str!("../migrations/0019_fhir_lookups_letters.sqlite.sql"),
        postgres: include_str!("../migrations/0019_fhir_lookups_letters.postgres.sql"),
    },
    Migration {
        version: 20,
        name: "inbox",
        common: include_str!("../migrations/0020_inbox.sql"),
        sqlite: include_str!("../migrations/0020_inbox.sqlite.sql"),
        postgres: include_str!("../migrations/0020_inbox.postgres.sql"),
    },
    Migration {
        version: 21,
        name: "reach",
        common: include_str!("../migrations/0021_reach.sql"),
        sqlite: include_str!("../migrations/0021_reach.sqlite.sql"),
        postgres: include_str!("../migrations/0021_reach.postgres.sql"),
    },
    Migration {
        version: 22,
        name: "name_grams",
        common: include_str!("../migrations/0022_name_grams.sql"),
        sqlite: include_str!("../migrations/0022_name_grams.sqlite.sql"),
        postgres: include_str!("../migrations/0022_name_grams.postgres.sql"),
    },
    Migration {
        version: 23,
        name: "duplicate_keys",
        common: include_str!("../migrations/0023_duplicate_keys.sql"),
        sqlite: include_str!("../migrations/0023_duplicate_keys.sqlite.sql"),
        postgres: include_str!("../migrations/0023_duplicate_keys.postgres.sql"),
    },
];

pub const LATEST_VERSION: i64 = 23;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub before: i64,
    pub after: i64,
    pub applied: Vec<String>,
}

/// False for a file of comments only (a step with nothing dialect-specific).
fn has_statements(sql: &str) -> bool {
    sql.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with("--"))
}

impl Store {
    /// The schema version recorded in the database (0 for an empty database).
    pub async fn schema_version(&self) -> Result<i64> {
        let exists = match self.backend {
            Backend::Sqlite => {
                sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
                    .fetch_optional(&self.write)
                    .await?
                    .is_some()
            }
            Backend::Postgres => {
                sqlx::query("SELECT 1 AS one FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'")
                    .fetch_optional(&self.write)
                    .await?
                    .is_some()
            }
        };
        if !exists {
            return Ok(0);
        }
        let row =
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").fetch_one(&self.write).await?;
        Ok(row.try_get::<i64, _>("v")?)
    }

    /// Refuse to run against a schema newer than this program knows.
    pub async fn check_schema_not_newer(&self) -> Result<i64> {
        let v = self.schema_version().await?;
        if v > LATEST_VERSION {
            return Err(StoreError::SchemaNewer { found: v, supported: LATEST_VERSION });
        }
        Ok(v)
    }

    /// Apply every pending migration, each in its own transaction. A database whose
    /// recorded history is not this program's (a step missing or named differently, as
    /// after running a development build) is refused before anything is applied: the
    /// "pending" steps would be the wrong ones.
    pub async fn migrate(&self) -> Result<MigrationStatus> {
        let before = self.check_schema_not_newer().await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(&self.write)
        .await?;
        self.check_migration_history().await?;
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > before) {
            let mut tx = self.write.begin().await?;
            sqlx::raw_sql(m.common).execute(&mut *tx).await?;
            let dialect = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            if has_statements(dialect) {
                sqlx::raw_sql(dialect).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(ts(self.now()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "migration applied");
            applied.push(format!("{:04}_{}", m.version, m.name));
        }
        let after = self.schema_version().await?;
        Ok(MigrationStatus { before, after, applied })
    }

    /// The recorded steps must be exactly this program's first ones, in order, by name.
    async fn check_migration_history(&self) -> Result<()> {
        let rows =
            sqlx::query("SELECT version, name FROM schema_migrations ORDER BY version").fetch_all(&self.write).await?;
        for (i, r) in rows.iter().enumerate() {
            let version: i64 = r.try_get("version")?;
            let name: String = r.try_get("name")?;
            let expected = MIGRATIONS.get(i).map(|m| (m.version, m.name));
            if expected != Some((version, name.as_str())) {
                let wanted = expected.map(|(v, n)| format!("{v:04}_{n}")).unwrap_or_else(|| "nothing".into());
                return Err(StoreError::Corrupt(format!(
                    "the database records migration {version:04}_{name} where this program has {wanted}; \
                     it was migrated by another build: restore a backup taken before that"
                )));
            }
        }
        Ok(())
    }

    /// True when the schema is current; `serve` refuses an unmigrated database only
    /// after trying to migrate it.
    pub async fn is_current(&self) -> Result<bool> {
        Ok(self.schema_version().await? == LATEST_VERSION)
    }
}

#[cfg(test)]
mod schema_rules;
