//! What the workloads ask for, sampled from the generated database before the server
//! starts: one hospital with the most shared charts, one of its physicians, its shared
//! charts (W1, W2, W5 Observation), patients within its reach with their local ids,
//! kana, names and birth dates (W3, W5), and 2-kanji words of the notes (W4).

use anyhow::{Context, Result, bail};
use sqlx::{AnyPool, Row};

/// 2-kanji words of the generated notes (`crates/cli/src/generate/clinical.rs`), from
/// everyday (訪問, 内服, 家族) to rare (嘔気, 不眠, 発熱), so that W4 meets both.
pub const TERMS: [&str; 12] =
    ["疼痛", "褥瘡", "排便", "浮腫", "呼吸", "酸素", "内服", "家族", "訪問", "嘔気", "不眠", "発熱"];

#[derive(Debug, Clone)]
pub struct Known {
    pub id: String,
    pub local_id: String,
    pub family_name: String,
    pub family_kana: String,
    pub birth_date: String,
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub org_id: String,
    pub org_code: String,
    pub org_name: String,
    pub email: String,
    /// Shared charts the organization is on the team of (consent given).
    pub charts: Vec<String>,
    /// Of them, charts with lab results.
    pub lab_charts: Vec<String>,
    /// Patients the organization registered, with its local ids.
    pub known: Vec<Known>,
    pub patients_total: i64,
    pub entries_total: i64,
}

async fn count(pool: &AnyPool, sql: &str) -> Result<i64> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await?.try_get::<i64, _>(0)?)
}

pub async fn sample(pool: &AnyPool, charts: usize, known: usize) -> Result<Fixture> {
    let org = sqlx::query(
        "SELECT o.id, o.code, o.name, COUNT(*) AS n FROM care_team t JOIN organizations o ON o.id = t.org_id \
         JOIN patients p ON p.id = t.patient_id \
         WHERE t.ended_at IS NULL AND o.kind = 'hospital' AND p.consent_status = 'given' \
         GROUP BY o.id, o.code, o.name ORDER BY n DESC, o.id LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .context("no hospital on any care team: generate the dataset first (tsunagu generate)")?;
    let org_id: String = org.try_get("id")?;
    let org_code: Option<String> = org.try_get("code")?;
    let org_name: String = org.try_get("name")?;
    let email: String = sqlx::query(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND u.status = 'active' AND u.profession = 'physician' ORDER BY u.email LIMIT 1",
    )
    .bind(&org_id)
    .fetch_optional(pool)
    .await?
    .context("the hospital has no active physician")?
    .try_get("email")?;
    let chart_rows = sqlx::query(
        "SELECT t.patient_id FROM care_team t JOIN patients p ON p.id = t.patient_id \
         WHERE t.org_id = $1 AND t.ended_at IS NULL AND p.consent_status = 'given' \
         AND EXISTS (SELECT 1 FROM entries e WHERE e.patient_id = t.patient_id) \
         ORDER BY t.patient_id LIMIT $2",
    )
    .bind(&org_id)
    .bind(charts as i64)
    .fetch_all(pool)
    .await?;
    let charts: Vec<String> = chart_rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?;
    if charts.is_empty() {
        bail!("the hospital is on no shared chart with entries");
    }
    let mut lab_charts = Vec::new();
    for c in &charts {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM lab_results WHERE patient_id = $1")
            .bind(c)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        if n > 0 {
            lab_charts.push(c.clone());
        }
    }
    let known_rows = sqlx::query(
        "SELECT p.id, i.local_id, p.family_name, p.family_kana, p.birth_date FROM patient_identifiers i \
         JOIN patients p ON p.id = i.patient_id WHERE i.org_id = $1 AND p.owner_org_id = $1 \
         ORDER BY i.local_id LIMIT $2",
    )
    .bind(&org_id)
    .bind(known as i64)
    .fetch_all(pool)
    .await?;
    let mut known = Vec::with_capacity(known_rows.len());
    for r in &known_rows {
        known.push(Known {
            id: r.try_get("id")?,
            local_id: r.try_get("local_id")?,
            family_name: r.try_get("family_name")?,
            family_kana: r.try_get("family_kana")?,
            birth_date: r.try_get("birth_date")?,
        });
    }
    if known.is_empty() {
        bail!("the hospital registered no patient with a local id");
    }
    Ok(Fixture {
        org_id,
        org_code: org_code.context("the hospital has no institution code")?,
        org_name,
        email,
        charts,
        lab_charts,
        known,
        patients_total: count(pool, "SELECT COUNT(*) FROM patients").await?,
        entries_total: count(pool, "SELECT COUNT(*) FROM entries").await?,
    })
}
