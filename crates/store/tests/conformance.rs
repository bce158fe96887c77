//! The store's conformance suite: the same stories on SQLite and PostgreSQL
//! (`TSUNAGU_TEST_BACKEND=sqlite|postgres`, `TSUNAGU_TEST_POSTGRES_URL`).

// Test code may panic on unexpected results (that is how a test fails) and may use
// ambient randomness for database names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::disallowed_methods)]

use sqlx::Connection;
use std::sync::Arc;
use time::macros::{date, datetime};
use tsunagu_domain::clock::{ManualClock, SeededIdGen};
use tsunagu_domain::org::{Capabilities, InstitutionCode, OrgKind, OrgStatus};
use tsunagu_domain::patient::{ConsentStatus, NewPatient, PatientForm, TeamRole};
use tsunagu_domain::person::{Email, Profession};
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{OrgId, PatientId};
use tsunagu_store::{AuditCtx, NewOrg, NewUser, OpenMode, Registered, SearchQuery, Store, StoreError};

struct TestDb {
    store: Store,
    clock: Arc<ManualClock>,
    url: String,
    /// PostgreSQL: the admin URL and the database to drop at the end.
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Check invariants, then remove the database (a shared server must not fill up).
    async fn finish(self) {
        assert_eq!(self.store.verify_audit().await.unwrap().first_break, None);
        assert!(self.store.integrity_problems().await.unwrap().is_empty());
        self.store.close().await;
        if let Some((admin, name)) = self.pg {
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::Executor::execute(
                &mut c,
                sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
            )
            .await
            .unwrap();
        }
    }
}

async fn fresh() -> TestDb {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 01:00 UTC)));
    let ids = Arc::new(SeededIdGen::new(7));
    let backend = std::env::var("TSUNAGU_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into());
    let (url, dir, pg) = if backend == "postgres" {
        let admin = std::env::var("TSUNAGU_TEST_POSTGRES_URL").expect("TSUNAGU_TEST_POSTGRES_URL");
        let name = format!("tsunagu_store_{}", uuid::Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::Executor::execute(&mut c, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        let base = admin.rsplit_once('/').unwrap().0.to_string();
        (format!("{base}/{name}"), None, Some((admin, name)))
    } else {
        let d = tempfile::tempdir().unwrap();
        (format!("sqlite://{}/t.db", d.path().display()), Some(d), None)
    };
    let clock_handle = clock.clone();
    let store = Store::open(&url, OpenMode::CreateIfMissing, clock, ids).await.unwrap();
    store.migrate().await.unwrap();
    TestDb { store, clock: clock_handle, url, pg, _dir: dir }
}

async fn org(s: &Store, name: &str, code9: &str) -> OrgId {
    let d = InstitutionCode::check_digit(code9).unwrap();
    let o = NewOrg {
        code: Some(InstitutionCode::parse(&format!("{code9}{d}")).unwrap()),
        kind: OrgKind::Clinic,
        name: name.into(),
        name_kana: String::new(),
        postal_code: None,
        address: None,
        phone: None,
        night_phone: None,
        coordinates: Some((38.72, 139.82)),
        capabilities: Capabilities { home_visits: true, ..Default::default() },
    };
    s.create_org(&o, OrgStatus::Approved, None, &AuditCtx::default()).await.unwrap()
}

async fn person(s: &Store, org: OrgId, email: &str) -> Principal {
    let u = NewUser {
        email: Email::parse(email).unwrap(),
        display_name: email.into(),
        name_kana: String::new(),
        profession: Profession::Physician,
        password_hash: "x".into(),
        operator: false,
    };
    let id = s.create_user(&u, org, true, None, &AuditCtx::default()).await.unwrap();
    s.principal(id, org).await.unwrap()
}

/// Two clinics, A and B, with a physician in each: the set-up of most sharing tests.
async fn two_clinics(s: &Store) -> ((OrgId, Principal), (OrgId, Principal)) {
    let (a, b) = (org(s, "A", "061011111").await, org(s, "B", "061012222").await);
    ((a, person(s, a, "a@x.jp").await), (b, person(s, b, "b@x.jp").await))
}

fn hanako() -> NewPatient {
    let f = PatientForm {
        family_name: "山田".into(),
        given_name: "花子".into(),
        family_kana: "ヤマダ".into(),
        given_kana: "ハナコ".into(),
        sex: "female".into(),
        birth_date: "1940-03-02".into(),
        local_id: "A-1".into(),
        ..Default::default()
    };
    NewPatient::parse(&f, date!(2026 - 11 - 24)).unwrap()
}

async fn register(s: &Store, who: &Principal) -> PatientId {
    match s.register_patient(who, &hanako(), false, &AuditCtx::default()).await.unwrap() {
        Registered::Created(id) => id,
        Registered::PossibleDuplicates(_) => panic!("unexpected duplicate"),
    }
}

#[tokio::test]
async fn sharing_follows_team_and_consent() {
    let db = fresh().await;
    let s = &db.store;
    let (a, b, c) = (org(s, "A", "061011111").await, org(s, "B", "061012222").await, org(s, "C", "061013333").await);
    let (pa, pb, pc) = (person(s, a, "a@x.jp").await, person(s, b, "b@x.jp").await, person(s, c, "c@x.jp").await);
    let pid = register(s, &pa).await;
    let ctx = AuditCtx::default();

    // B is not on the team: B's view equals a missing patient's.
    assert!(matches!(s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await, Err(StoreError::NotFound)));
    let missing = PatientId(uuid::Uuid::from_u128(42));
    assert!(matches!(
        s.open_chart(&pb, missing, ChartAction::Read, "chart.read", &ctx).await,
        Err(StoreError::NotFound)
    ));

    let g = s.open_chart(&pa, pid, ChartAction::Govern, "team.add", &ctx).await.unwrap();
    s.add_team_member(&g, b, TeamRole::HomePhysician, &ctx).await.unwrap();
    assert!(matches!(s.add_team_member(&g, b, TeamRole::HomePhysician, &ctx).await, Err(StoreError::Conflict { .. })));
    // On the team but no consent yet: still nothing.
    assert!(s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.is_err());
    s.record_consent(&g, ConsentStatus::Given, Some("看護師 佐藤"), None, &ctx).await.unwrap();
    let gb = s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
    assert_eq!(s.patient(&gb).await.unwrap().family_name, "山田");
    assert_eq!(s.team(&gb).await.unwrap().len(), 2);
    // A member may not govern: forbidden, not hidden.
    assert!(matches!(s.open_chart(&pb, pid, ChartAction::Govern, "team.add", &ctx).await, Err(StoreError::Forbidden)));
    // C still sees nothing, in search too.
    assert!(s.open_chart(&pc, pid, ChartAction::Read, "chart.read", &ctx).await.is_err());
    let q = SearchQuery { text: Some("ﾔﾏﾀﾞ".into()), ..Default::default() };
    assert!(s.search_patients(&pc, &q, &ctx).await.unwrap().is_empty());
    assert_eq!(s.search_patients(&pb, &q, &ctx).await.unwrap().len(), 1);

    // Withdrawal stops sharing except for the owner; nothing is deleted.
    s.record_consent(&g, ConsentStatus::Withdrawn, None, None, &ctx).await.unwrap();
    assert!(s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.is_err());
    assert!(s.search_patients(&pb, &q, &ctx).await.unwrap().is_empty());
    let ga = s.open_chart(&pa, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
    assert_eq!(s.consents(&ga).await.unwrap().len(), 2);

    // Refusals are in the audit chain, and the chain holds.
    let refused = s.audit_recent(Some("chart.read"), 100).await.unwrap();
    assert!(refused.iter().any(|r| r.outcome == "refused" && r.patient_id.as_deref() == Some(&missing.to_string())));
    assert!(refused.iter().any(|r| r.outcome == "refused"
        && r.patient_id.as_deref() == Some(&pid.to_string())
        && r.actor_org.as_deref() == Some(&c.to_string())));
    db.finish().await;
}

/// An API token acts as its person for its organization, and stops at once when it
/// expires, is revoked, or its person is suspended; every refusal looks the same.
#[tokio::test]
async fn an_api_token_acts_only_while_it_is_valid() {
    let db = fresh().await;
    let s = &db.store;
    let ctx = AuditCtx::default();
    let a = org(s, "A", "061011111").await;
    let (admin, nurse) = (person(s, a, "admin@x.jp").await, person(s, a, "nurse@x.jp").await);
    let in_an_hour = Some(datetime!(2026-11-24 02:00 UTC));
    s.create_token(admin.user, a, "hash-admin", "t", None, &ctx).await.unwrap();
    let expiring = s.create_token(nurse.user, a, "hash-expiring", "t", in_an_hour, &ctx).await.unwrap();
    s.create_token(nurse.user, a, "hash-nurse", "t", None, &ctx).await.unwrap();
    let revoked = s.create_token(admin.user, a, "hash-revoked", "t", None, &ctx).await.unwrap();

    assert_eq!(s.token_principal("hash-admin").await.unwrap(), admin);
    assert_eq!(s.token_principal("hash-expiring").await.unwrap(), nurse);
    assert!(matches!(s.token_principal("hash-unknown").await, Err(StoreError::NotFound)));

    s.revoke_token(&revoked, &ctx).await.unwrap();
    assert!(matches!(s.token_principal("hash-revoked").await, Err(StoreError::NotFound)));
    db.clock.advance(time::Duration::hours(1));
    assert!(matches!(s.token_principal("hash-expiring").await, Err(StoreError::NotFound)), "expired at {expiring}");
    assert_eq!(s.token_principal("hash-nurse").await.unwrap(), nurse);
    s.set_user_status(&admin, nurse.user, false, &ctx).await.unwrap();
    assert!(matches!(s.token_principal("hash-nurse").await, Err(StoreError::NotFound)));
    assert!(matches!(s.principal(nurse.user, a).await, Err(StoreError::NotFound)));
    assert_eq!(s.token_principal("hash-admin").await.unwrap(), admin);
    db.finish().await;
}

#[tokio::test]
async fn duplicates_and_local_ids() {
    let db = fresh().await;
    let s = &db.store;
    let a = org(s, "A", "061011111").await;
    let pa = person(s, a, "a@x.jp").await;
    register(s, &pa).await;
    let ctx = AuditCtx::default();
    match s.register_patient(&pa, &hanako(), false, &ctx).await.unwrap() {
        Registered::PossibleDuplicates(d) => assert_eq!(d.len(), 1),
        Registered::Created(_) => panic!("duplicate not flagged"),
    }
    // Confirmed as a different person, but the local id is taken: a named conflict.
    let e = s.register_patient(&pa, &hanako(), true, &ctx).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { field: "local_id", .. }), "{e:?}");
    assert_eq!(s.count_patients().await.unwrap(), 1, "the failed registration left nothing");
    let by_local = SearchQuery { local_id: Some("A-1".into()), ..Default::default() };
    assert_eq!(s.search_patients(&pa, &by_local, &ctx).await.unwrap().len(), 1);
    let by_birth =
        SearchQuery { birth_date: Some(date!(1940 - 03 - 02)), text: Some("はなこ".into()), ..Default::default() };
    assert_eq!(s.search_patients(&pa, &by_birth, &ctx).await.unwrap().len(), 1);
    db.finish().await;
}

#[tokio::test]
async fn audit_refuses_changes_and_detects_tampering() {
    let db = fresh().await;
    let s = &db.store;
    let a = org(s, "A", "061011111").await;
    let pa = person(s, a, "a@x.jp").await;
    register(s, &pa).await;
    let n = s.audit_count().await.unwrap();
    assert!(n >= 3);

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let upd = sqlx::query("UPDATE audit SET detail = 'x' WHERE seq = 2").execute(&mut conn).await;
    assert!(upd.is_err(), "the database must refuse UPDATE on audit");
    let del = sqlx::query("DELETE FROM audit WHERE seq = 2").execute(&mut conn).await;
    assert!(del.is_err(), "the database must refuse DELETE on audit");
    assert_eq!(s.verify_audit().await.unwrap().first_break, None);

    // Someone with DBA rights goes around the trigger: verify names the row.
    let drop_trigger = if s.backend() == tsunagu_store::Backend::Sqlite {
        "DROP TRIGGER audit_no_update"
    } else {
        "DROP TRIGGER audit_no_change ON audit"
    };
    sqlx::raw_sql(drop_trigger).execute(&mut conn).await.unwrap();
    let original: String =
        sqlx::Row::get(&sqlx::query("SELECT detail FROM audit WHERE seq = 2").fetch_one(&mut conn).await.unwrap(), 0);
    sqlx::query("UPDATE audit SET detail = 'edited' WHERE seq = 2").execute(&mut conn).await.unwrap();
    let report = s.verify_audit().await.unwrap();
    assert_eq!(report.first_break.map(|b| b.0), Some(2));
    // Put the row back as it was so the common invariant check can run.
    sqlx::query("UPDATE audit SET detail = $1 WHERE seq = 2").bind(original).execute(&mut conn).await.unwrap();
    drop(conn);
    db.finish().await;
}

/// Records written at the same moment share commits (group commit), and still each
/// one is in the chain, once, in the order of its sequence number, committed before its
/// caller is answered, and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_records_written_at_once_share_commits_and_each_is_in_the_chain() {
    let db = fresh().await;
    let s = &db.store;
    let a = org(s, "A", "061011111").await;
    let pa = person(s, a, "a@x.jp").await;
    let before = s.audit_count().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        let who = pa.clone();
        let url = db.url.clone();
        tasks.push(tokio::spawn(async move {
            let ev = tsunagu_store::AuditEvent {
                actor_user: Some(who.user),
                actor_org: Some(who.org),
                action: "bench.read".into(),
                outcome: tsunagu_store::Outcome::Allowed,
                patient: None,
                target: format!("t{i}"),
                detail: String::new(),
            };
            let ctx = AuditCtx { ip: None, request_id: Some(format!("req-{i}")) };
            let seq = s.audit(&ev, &ctx).await.unwrap();
            // Answered only after its commit: a fresh connection sees the record.
            let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
            let n: i64 = sqlx::Row::get(
                &sqlx::query("SELECT COUNT(*) FROM audit WHERE seq = $1 AND target = $2")
                    .bind(seq)
                    .bind(format!("t{i}"))
                    .fetch_one(&mut c)
                    .await
                    .unwrap(),
                0,
            );
            assert_eq!(n, 1, "record {i} (seq {seq}) is committed when its caller is answered");
            seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 200, "every record got a sequence number of its own");
    assert_eq!(s.audit_count().await.unwrap(), before + 200);
    assert_eq!(s.verify_audit().await.unwrap().first_break, None);
    db.finish().await;
}

#[tokio::test]
async fn missing_database_is_not_created_and_newer_schema_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nope/t.db", d.path().display());
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 01:00 UTC)));
    let e = Store::open(&url, OpenMode::MustExist, clock.clone(), Arc::new(SeededIdGen::new(1))).await.unwrap_err();
    assert!(matches!(e, StoreError::DatabaseMissing(_)));
    assert!(!d.path().join("nope").exists());

    let db = fresh().await;
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
        .execute(&mut sqlx::AnyConnection::connect(&db.url).await.unwrap())
        .await
        .unwrap();
    assert!(matches!(db.store.migrate().await, Err(StoreError::SchemaNewer { found: 999, .. })));
    db.finish().await;
}

#[tokio::test]
async fn a_database_migrated_by_another_build_is_refused_before_anything_is_applied() {
    let db = fresh().await;
    // As if a development build had recorded its own step 16 (and this program's 16
    // had never run): the history is not ours.
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE schema_migrations SET name = 'something_else' WHERE version = 16")
        .execute(&mut c)
        .await
        .unwrap();
    let e = db.store.migrate().await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt(m) if m.contains("0016_something_else") && m.contains("0016_fhir")),
        "{e}"
    );
    // The same history again is fine.
    sqlx::query("UPDATE schema_migrations SET name = 'fhir' WHERE version = 16").execute(&mut c).await.unwrap();
    assert!(db.store.migrate().await.unwrap().applied.is_empty());
    drop(c);
    db.finish().await;
}

mod chart {
    use super::*;
    use tsunagu_domain::chart::{EntryBody, EntryKind, ProgressNote, VitalSigns};
    use tsunagu_store::{InboxPaging, Mention, TimelineFilter};

    fn note(text: &str) -> EntryBody {
        EntryBody::ProgressNote(ProgressNote { text: Some(text.into()), ..Default::default() })
    }

    /// A patient of org A shared with org B (consent given); C is outside.
    async fn shared(s: &Store) -> (Principal, Principal, Principal, PatientId) {
        let (a, b, c) =
            (org(s, "A", "061011111").await, org(s, "B", "061012222").await, org(s, "C", "061013333").await);
        let (pa, pb, pc) = (person(s, a, "a@x.jp").await, person(s, b, "b@x.jp").await, person(s, c, "c@x.jp").await);
        let pid = register(s, &pa).await;
        let ctx = AuditCtx::default();
        let g = s.open_chart(&pa, pid, ChartAction::Govern, "team.add", &ctx).await.unwrap();
        s.add_team_member(&g, b, tsunagu_domain::patient::TeamRole::VisitingNurse, &ctx).await.unwrap();
        s.record_consent(&g, ConsentStatus::Given, None, None, &ctx).await.unwrap();
        (pa, pb, pc, pid)
    }

    #[tokio::test]
    async fn two_organizations_write_one_chart_and_corrections_keep_every_version() {
        let db = fresh().await;
        let s = &db.store;
        let (pa, pb, pc, pid) = shared(s).await;
        let ctx = AuditCtx::default();
        let wa = s.open_chart(&pa, pid, ChartAction::Write, "entry.create", &ctx).await.unwrap();
        let wb = s.open_chart(&pb, pid, ChartAction::Write, "entry.create", &ctx).await.unwrap();
        let first = s.add_entry(&wa, note("褥瘡 仙骨部 2cm"), &[], &ctx).await.unwrap();
        let vit = EntryBody::VitalSigns(VitalSigns { temperature_c: Some(37.4), spo2: Some(93), ..Default::default() });
        s.add_entry(&wb, vit, &[], &ctx).await.unwrap();
        assert!(s.open_chart(&pc, pid, ChartAction::Read, "chart.read", &ctx).await.is_err());

        let rb = s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
        let tl = s.timeline(&rb, &TimelineFilter::default()).await.unwrap();
        assert_eq!(tl.len(), 2);
        assert_eq!(tl[0].kind, EntryKind::VitalSigns, "newest first");

        // B may not correct A's note; A may.
        assert!(matches!(
            s.correct_entry(&wb, &first.version_id, note("x"), "typo", &ctx).await,
            Err(StoreError::Forbidden)
        ));
        let v2 =
            s.correct_entry(&wa, &first.version_id, note("褥瘡 仙骨部 3cm"), "size mis-typed", &ctx).await.unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.supersedes.as_deref(), Some(first.version_id.as_str()));
        // A second correction of the old version is stale.
        assert!(matches!(
            s.correct_entry(&wa, &first.version_id, note("y"), "again", &ctx).await,
            Err(StoreError::Conflict { .. })
        ));
        let hist = s.entry_history(&rb, &first.entry_id).await.unwrap();
        assert_eq!(hist.len(), 2);
        assert_eq!(hist[0].body, note("褥瘡 仙骨部 2cm"));
        let tl = s.timeline(&rb, &TimelineFilter::default()).await.unwrap();
        assert_eq!(tl.len(), 2, "the timeline shows the current version once");
        assert!(tl.iter().any(|e| e.version == 2 && e.is_corrected()));

        // Entered in error: still there, marked.
        s.mark_entered_in_error(&wa, &first.entry_id, "wrong patient", &ctx).await.unwrap();
        let tl = s.timeline(&rb, &TimelineFilter::default()).await.unwrap();
        assert_eq!(
            tl.iter().find(|e| e.entry_id == first.entry_id).unwrap().in_error.as_ref().unwrap().reason,
            "wrong patient"
        );

        // The database itself refuses to change or delete an entry.
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        assert!(sqlx::query("UPDATE entries SET body = '{}'").execute(&mut conn).await.is_err());
        assert!(sqlx::query("DELETE FROM entries").execute(&mut conn).await.is_err());
        assert!(sqlx::query("DELETE FROM entry_marks").execute(&mut conn).await.is_err());
        drop(conn);

        // Every write is in the audit chain with its content hash.
        let writes = s.audit_recent(Some("entry.correct"), 10).await.unwrap();
        assert!(writes[0].detail.contains(&v2.content_hash));
        db.finish().await;
    }

    /// Reads (an audit record each), notes and corrections arriving at once share group
    /// commits: every read's record and every write is in the chain once, and of five
    /// corrections of the same version the one that comes first wins while the four
    /// stale ones fail alone, rolling back nothing of the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_and_writes_at_once_share_commits_and_a_stale_write_fails_alone() {
        let db = fresh().await;
        let s = &db.store;
        let (pa, pb, _, pid) = shared(s).await;
        let ctx = AuditCtx::default();
        let wa = s.open_chart(&pa, pid, ChartAction::Write, "entry.create", &ctx).await.unwrap();
        let first = s.add_entry(&wa, note("初回"), &[], &ctx).await.unwrap();
        let count = |action: &'static str| async move { s.audit_recent(Some(action), 1000).await.unwrap().len() };
        let (reads_before, creates_before) = (count("chart.read").await, count("entry.create").await);
        let mut reads = Vec::new();
        let mut notes = Vec::new();
        let mut corrections = Vec::new();
        for i in 0..60 {
            let (st, pb) = (s.clone(), pb.clone());
            reads.push(tokio::spawn(async move {
                st.open_chart(&pb, pid, ChartAction::Read, "chart.read", &AuditCtx::default()).await.map(|_| ())
            }));
            if i % 6 == 0 {
                let (st, wa) = (s.clone(), wa.clone());
                notes.push(tokio::spawn(async move {
                    st.add_entry(&wa, note(&format!("訪問 {i}")), &[], &AuditCtx::default()).await.map(|_| ())
                }));
            }
            if i % 12 == 0 {
                let (st, wa, v) = (s.clone(), wa.clone(), first.version_id.clone());
                corrections.push(tokio::spawn(async move {
                    st.correct_entry(&wa, &v, note(&format!("訂正 {i}")), "typo", &AuditCtx::default()).await
                }));
            }
        }
        for r in reads {
            r.await.unwrap().unwrap();
        }
        for n in notes {
            n.await.unwrap().unwrap();
        }
        let mut won = 0;
        for c in corrections {
            match c.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => panic!("a correction failed otherwise: {e}"),
            }
        }
        assert_eq!(won, 1, "one correction of the version wins, the stale ones fail");
        assert_eq!(count("chart.read").await, reads_before + 60);
        assert_eq!(count("entry.create").await, creates_before + 10);
        assert_eq!(count("entry.correct").await, 1);
        let rb = s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
        let tl = s.timeline(&rb, &TimelineFilter::default()).await.unwrap();
        assert_eq!(tl.len(), 11);
        assert_eq!(tl.iter().filter(|e| e.version == 2).count(), 1);
        db.finish().await;
    }

    #[tokio::test]
    async fn timeline_filters_and_pages_with_a_cursor() {
        let db = fresh().await;
        let s = &db.store;
        let (pa, pb, _pc, pid) = shared(s).await;
        let ctx = AuditCtx::default();
        let wa = s.open_chart(&pa, pid, ChartAction::Write, "entry.create", &ctx).await.unwrap();
        let wb = s.open_chart(&pb, pid, ChartAction::Write, "entry.create", &ctx).await.unwrap();
        for i in 0..7 {
            s.add_entry(if i % 2 == 0 { &wa } else { &wb }, note(&format!("note {i}")), &[], &ctx).await.unwrap();
        }
        let r = s.open_chart(&pa, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
        let only_b = s.timeline(&r, &TimelineFilter { org: Some(pb.org), ..Default::default() }).await.unwrap();
        assert_eq!(only_b.len(), 3);
        let page1 = s.timeline(&r, &TimelineFilter { limit: 4, ..Default::default() }).await.unwrap();
        let last = page1.last().unwrap();
        let page2 = s
            .timeline(
                &r,
                &TimelineFilter {
                    limit: 4,
                    before: Some((last.entry_recorded_at.clone(), last.entry_id.clone())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page1.len() + page2.len(), 7);
        assert!(page2.iter().all(|e| !page1.iter().any(|f| f.entry_id == e.entry_id)));
        db.finish().await;
    }

    #[tokio::test]
    async fn inbox_counts_go_to_zero_after_viewing_and_mentions_arrive() {
        let db = fresh().await;
        let s = &db.store;
        let (pa, pb, _pc, pid) = shared(s).await;
        let ctx = AuditCtx::default();
        db.clock.advance(time::Duration::minutes(1));
        let wa = s.open_chart(&pa, pid, ChartAction::Write, "entry.create", &ctx).await.unwrap();
        let msg = EntryBody::Message(tsunagu_domain::chart::Message {
            text: "夜間の疼痛について相談です".into(),
            attachments: vec![],
        });
        s.add_entry(&wa, msg, &[Mention::User(pb.user)], &ctx).await.unwrap();
        s.add_entry(&wa, note("疼痛 NRS 6"), &[], &ctx).await.unwrap();
        let inbox = s.inbox(&pb, InboxPaging::first(), &ctx).await.unwrap().rows;
        let row = inbox.iter().find(|r| r.patient_id == pid).unwrap();
        assert_eq!((row.unread, row.mentions), (2, 1));
        // The author's own entries are not unread for the author.
        assert_eq!(
            s.inbox(&pa, InboxPaging::first(), &ctx)
                .await
                .unwrap()
                .rows
                .iter()
                .find(|r| r.patient_id == pid)
                .unwrap()
                .unread,
            0
        );
        let rb = s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
        db.clock.advance(time::Duration::minutes(1));
        s.mark_chart_seen(&rb).await.unwrap();
        let row = s
            .inbox(&pb, InboxPaging::first(), &ctx)
            .await
            .unwrap()
            .rows
            .into_iter()
            .find(|r| r.patient_id == pid)
            .unwrap();
        assert_eq!((row.unread, row.mentions), (0, 0));
        db.finish().await;
    }

    /// The inbox comes a page at a time, most pressing first (mentions, then new
    /// entries, then the latest activity), and counts only the charts it may show; each
    /// page's audit record names that page's patients.
    #[tokio::test]
    async fn inbox_pages_are_ordered_complete_and_audited_by_page() {
        let db = fresh().await;
        let s = &db.store;
        let ctx = AuditCtx::default();
        let (pa, pb, _pc, shared_pid) = shared(s).await;
        // Four more of A's patients; one of them is on B's team without consent.
        let mut own = Vec::new();
        for (i, kana) in ["イチ", "ニ", "サン", "ヨン"].iter().enumerate() {
            let f = PatientForm {
                family_name: "患者".into(),
                given_name: format!("{i}"),
                family_kana: "カンジャ".into(),
                given_kana: (*kana).into(),
                sex: "female".into(),
                birth_date: format!("195{i}-01-01"),
                local_id: format!("P-{i}"),
                ..Default::default()
            };
            let p = NewPatient::parse(&f, date!(2026 - 11 - 24)).unwrap();
            match s.register_patient(&pa, &p, true, &ctx).await.unwrap() {
                Registered::Created(id) => own.push(id),
                Registered::PossibleDuplicates(_) => panic!("unexpected duplicate"),
            }
        }
        let g = s.open_chart(&pa, own[3], ChartAction::Govern, "team.add", &ctx).await.unwrap();
        s.add_team_member(&g, pb.org, TeamRole::HomePhysician, &ctx).await.unwrap();
        db.clock.advance(time::Duration::minutes(1));
        // B writes on three of A's charts: one note on own[0], two on own[1], a message
        // naming A's person on own[2]; the shared chart and own[3] stay quiet.
        let write = |pid| s.open_chart(&pb, pid, ChartAction::Write, "entry.create", &ctx);
        let wb = s.open_chart(&pa, own[0], ChartAction::Govern, "team.add", &ctx).await.unwrap();
        s.add_team_member(&wb, pb.org, TeamRole::HomePhysician, &ctx).await.unwrap();
        s.record_consent(&wb, ConsentStatus::Given, None, None, &ctx).await.unwrap();
        for pid in [own[1], own[2]] {
            let gg = s.open_chart(&pa, pid, ChartAction::Govern, "team.add", &ctx).await.unwrap();
            s.add_team_member(&gg, pb.org, TeamRole::HomePhysician, &ctx).await.unwrap();
            s.record_consent(&gg, ConsentStatus::Given, None, None, &ctx).await.unwrap();
        }
        db.clock.advance(time::Duration::minutes(1));
        s.add_entry(&write(own[0]).await.unwrap(), note("訪問しました"), &[], &ctx).await.unwrap();
        for _ in 0..2 {
            s.add_entry(&write(own[1]).await.unwrap(), note("疼痛 NRS 4"), &[], &ctx).await.unwrap();
        }
        let msg =
            EntryBody::Message(tsunagu_domain::chart::Message { text: "ご相談です".into(), attachments: vec![] });
        s.add_entry(&write(own[2]).await.unwrap(), msg, &[Mention::User(pa.user)], &ctx).await.unwrap();

        // A's inbox, two at a time: the mention, then two new entries, then one, then
        // the quiet charts; together every chart once.
        let mut seen = Vec::new();
        for offset in [0, 2, 4] {
            let page = s.inbox(&pa, InboxPaging { offset, limit: 2 }, &ctx).await.unwrap();
            assert_eq!(page.total, 5);
            let shown: Vec<String> = page.rows.iter().map(|r| r.patient_id.to_string()).collect();
            let audit = s.audit_recent(Some("inbox.read"), 1).await.unwrap();
            assert!(shown.iter().all(|p| audit[0].detail.contains(p.as_str())), "{audit:?}");
            assert!(seen.iter().all(|p: &PatientId| !audit[0].detail.contains(&p.to_string())), "{audit:?}");
            seen.extend(page.rows.iter().map(|r| r.patient_id));
        }
        assert_eq!(&seen[..3], &[own[2], own[1], own[0]]);
        let mut all = seen.clone();
        all.sort();
        let mut expected = vec![shared_pid, own[0], own[1], own[2], own[3]];
        expected.sort();
        assert_eq!(all, expected);
        assert!(s.inbox(&pa, InboxPaging { offset: 5, limit: 2 }, &ctx).await.unwrap().rows.is_empty());

        // B's inbox: the charts shared with consent, not own[3] (no consent).
        let b = s.inbox(&pb, InboxPaging::first(), &ctx).await.unwrap();
        assert_eq!(b.total, 4);
        assert!(b.rows.iter().all(|r| r.patient_id != own[3]));
        db.finish().await;
    }
}

mod letters {
    use super::*;
    use tsunagu_domain::letter::{LetterBody, LetterKind, LetterState};
    use tsunagu_store::LetterContent;

    fn referral(to: OrgId) -> LetterContent {
        let mut body = LetterBody::empty(LetterKind::Referral);
        body.set("purpose", "在宅緩和ケアのお願い".into()).unwrap();
        body.set("diagnoses", "膵癌".into()).unwrap();
        body.set("present_illness", "黄疸で発症".into()).unwrap();
        LetterContent { to_org: to, to_person: None, role: TeamRole::HomePhysician, body, attachments: vec![] }
    }

    /// Two people pressing "send" on one draft at once: one letter is sent, the other
    /// press is refused, and the recipient joins the team once.
    #[tokio::test]
    async fn a_draft_is_sent_once_and_its_recipient_joins_once() {
        let db = fresh().await;
        let s = &db.store;
        let ((a, pa), (b, pb)) = two_clinics(s).await;
        let pa2 = person(s, a, "a2@x.jp").await;
        let pid = register(s, &pa).await;
        let ctx = AuditCtx::default();
        let govern = s.open_chart(&pa, pid, ChartAction::Govern, "consent.record", &ctx).await.unwrap();
        s.record_consent(&govern, ConsentStatus::Given, Some("本人"), None, &ctx).await.unwrap();

        let g1 = s.open_chart(&pa, pid, ChartAction::Refer, "letter.create", &ctx).await.unwrap();
        let g2 = s.open_chart(&pa2, pid, ChartAction::Refer, "letter.send", &ctx).await.unwrap();
        let id = s.create_letter(&g1, referral(b), None, &ctx).await.unwrap();
        assert!(matches!(
            s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await,
            Err(StoreError::NotFound)
        ));

        let (r1, r2) = tokio::join!(s.send_letter(&g1, &id, &ctx), s.send_letter(&g2, &id, &ctx));
        assert_eq!(
            [r1.is_ok(), r2.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "exactly one send wins: {r1:?} {r2:?}"
        );
        let loser = if r1.is_ok() { r2 } else { r1 };
        assert!(matches!(loser, Err(StoreError::Conflict { key: "err-letter-state", .. })), "{loser:?}");

        let g = s.open_chart(&pb, pid, ChartAction::Read, "chart.read", &ctx).await.unwrap();
        let members: Vec<_> = s.team(&g).await.unwrap().into_iter().filter(|m| m.org_id == b).collect();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].role, TeamRole::HomePhysician);
        let l = s.letter(&g, &id).await.unwrap();
        assert_eq!(l.summary.state, LetterState::Sent);
        assert_eq!(l.events.iter().filter(|e| e.event == "send").count(), 1);
        db.finish().await;
    }
}

/// docs/scaling.md: every table that holds patient data has `patient_id` in its primary
/// key or first in an index, so a distributed engine can spread the schema by patient.
/// Read from the live schema of each database, so a new table cannot slip through.
#[tokio::test]
async fn schema_keys_every_patient_table_by_patient() {
    let db = fresh().await;
    // (table, primary key columns, first columns of its indexes), for tables with patient_id.
    let mut tables: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    if let Some((admin, name)) = &db.pg {
        let base = admin.rsplit_once('/').unwrap().0;
        let mut c = sqlx::PgConnection::connect(&format!("{base}/{name}")).await.unwrap();
        let with_patient: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'patient_id'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        for (t,) in with_patient {
            let rows: Vec<(bool, i32, String)> = sqlx::query_as(
                "SELECT i.indisprimary, k.ord::int4, a.attname::text FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
                 WHERE n.nspname = 'public' AND c.relname = $1",
            )
            .bind(&t)
            .fetch_all(&mut c)
            .await
            .unwrap();
            let pk = rows.iter().filter(|r| r.0).map(|r| r.2.clone()).collect();
            let leading = rows.iter().filter(|r| r.1 == 1).map(|r| r.2.clone()).collect();
            tables.push((t, pk, leading));
        }
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut c).await.unwrap();
        for (t,) in names {
            let cols: Vec<(i64, String, String, i64, Option<String>, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA table_info('{t}')")))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            if !cols.iter().any(|col| col.1 == "patient_id") {
                continue;
            }
            let pk = cols.iter().filter(|col| col.5 > 0).map(|col| col.1.clone()).collect();
            let indexes: Vec<(i64, String, i64, String, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA index_list('{t}')")))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            let mut leading = Vec::new();
            for ix in indexes {
                let first: Option<(i64, i64, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA index_info('{}')", ix.1)))
                        .fetch_optional(&mut c)
                        .await
                        .unwrap();
                if let Some(f) = first {
                    leading.push(f.2);
                }
            }
            tables.push((t, pk, leading));
        }
    }
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    for expected in ["entries", "care_team", "letters", "letter_versions", "letter_events", "chart_views"] {
        assert!(names.contains(&expected), "{expected} was not read from the schema: {names:?}");
    }
    for (table, pk, leading) in &tables {
        // The audit chain is one global sequence by design (docs/scaling.md).
        if table == "audit" {
            continue;
        }
        assert!(
            pk.iter().any(|c| c == "patient_id") || leading.iter().any(|c| c == "patient_id"),
            "{table} holds patient data but is keyed neither by patient_id in its primary key ({pk:?}) nor first in an index ({leading:?})"
        );
    }
    db.finish().await;
}

fn patient(family: &str, given: &str, family_kana: &str, given_kana: &str, local_id: &str) -> NewPatient {
    let f = PatientForm {
        family_name: family.into(),
        given_name: given.into(),
        family_kana: family_kana.into(),
        given_kana: given_kana.into(),
        sex: "male".into(),
        birth_date: "1938-07-15".into(),
        local_id: local_id.into(),
        ..Default::default()
    };
    NewPatient::parse(&f, date!(2026 - 11 - 24)).unwrap()
}

async fn found(s: &Store, who: &Principal, text: &str) -> Vec<String> {
    let q = SearchQuery { text: Some(text.into()), ..Default::default() };
    s.search_patients(who, &q, &AuditCtx::default())
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.family_name + &p.given_name)
        .collect()
}

/// The name search matches any part of the kana or kanji name, in any kana width, among
/// the patients an organization reaches (its own from the name index of migration
/// 0022), and follows a change of name at once.
#[tokio::test]
async fn name_search_finds_any_part_of_a_name_and_follows_changes() {
    let db = fresh().await;
    let s = &db.store;
    let ctx = AuditCtx::default();
    let ((a, pa), (_, pb)) = two_clinics(s).await;
    let hanako = register(s, &pa).await;
    s.register_patient(&pa, &patient("佐藤", "太郎", "サトウ", "タロウ", "A-2"), false, &ctx).await.unwrap();
    let Registered::Created(b_hanako) =
        s.register_patient(&pb, &patient("花田", "次郎", "ハナダ", "ジロウ", "B-1"), false, &ctx).await.unwrap()
    else {
        panic!("unexpected duplicate")
    };

    assert_eq!(found(s, &pa, "ﾊﾅｺ").await, ["山田花子"], "the given name, typed in half-width kana");
    assert_eq!(found(s, &pa, "だはな").await, ["山田花子"], "across family and given name, in hiragana");
    assert_eq!(found(s, &pa, "田花").await, ["山田花子"], "inside the kanji name");
    assert_eq!(found(s, &pa, "花").await, ["山田花子"], "one character, which no gram holds");
    assert_eq!(found(s, &pa, "ウタ").await, ["佐藤太郎"]);
    assert_eq!(found(s, &pa, "ハナ").await, ["山田花子"], "B's patient is not A's to find");
    assert!(found(s, &pa, "ハナコサ").await.is_empty(), "the whole text must occur, not only its first gram");

    // A change of name: the old one no longer finds the patient, the new one does.
    let g = s.open_chart(&pa, hanako, ChartAction::Write, "patient.update", &ctx).await.unwrap();
    let renamed = patient("山田", "春子", "ヤマダ", "ハルコ", "A-1");
    assert!(matches!(
        s.update_patient(&g, Some(1), &renamed, &ctx).await.unwrap(),
        tsunagu_store::PatientUpdate::Updated { version: 2 }
    ));
    assert!(found(s, &pa, "ハナコ").await.is_empty());
    assert_eq!(found(s, &pa, "ハルコ").await, ["山田春子"]);

    // Shared with A (team and consent), B's patient is found through the team.
    let gb = s.open_chart(&pb, b_hanako, ChartAction::Govern, "team.add", &ctx).await.unwrap();
    s.add_team_member(&gb, a, TeamRole::HomePhysician, &ctx).await.unwrap();
    s.record_consent(&gb, ConsentStatus::Given, Some("本人"), None, &ctx).await.unwrap();
    assert_eq!(found(s, &pa, "ハナ").await, ["花田次郎"]);

    // The FHIR search's filter narrows the same way: every name key must occur.
    let f = tsunagu_store::PatientFilter { name_keys: vec!["ヤマ".into(), "ハル".into()], ..Default::default() };
    let records = s.patient_candidates(&pa, &f).await.unwrap();
    assert_eq!(records.iter().map(|r| r.given_name.as_str()).collect::<Vec<_>>(), ["春子"]);
    let f = tsunagu_store::PatientFilter { name_keys: vec!["ヤマ".into(), "ハナ".into()], ..Default::default() };
    assert!(s.patient_candidates(&pa, &f).await.unwrap().is_empty());
    db.finish().await;
}

/// The name index is derived data that the integrity check compares with the names,
/// and migration 0022 builds it for the patients already registered.
#[tokio::test]
async fn name_index_is_checked_and_built_by_its_migration() {
    let db = fresh().await;
    let s = &db.store;
    let a = org(s, "A", "061011111").await;
    let pa = person(s, a, "a@x.jp").await;
    register(s, &pa).await;
    assert!(s.integrity_problems().await.unwrap().is_empty());

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE patient_name_grams SET gram = 'ヤメ' WHERE gram = 'ヤマ'").execute(&mut conn).await.unwrap();
    let problems = s.integrity_problems().await.unwrap();
    assert!(problems.iter().any(|p| p.starts_with("patient_name_grams: 2 row(s)")), "{problems:?}");

    // As a database at schema 21 with patients: the migration fills the index (and the
    // next one, which only rebuilds an index of the registry, runs again after it).
    sqlx::query("DROP TABLE patient_name_grams").execute(&mut conn).await.unwrap();
    sqlx::query("DELETE FROM schema_migrations WHERE version >= 22").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let status = s.migrate().await.unwrap();
    assert_eq!(status.applied, ["0022_name_grams", "0023_duplicate_keys"]);
    assert!(s.integrity_problems().await.unwrap().is_empty());
    assert_eq!(found(s, &pa, "ダハ").await, ["山田花子"]);
    db.finish().await;
}

fn lab(code: &str, value: Option<f64>, abnormal: &str, minute: u8) -> tsunagu_store::LabResultIn {
    tsunagu_store::LabResultIn {
        code: code.into(),
        code_system: "JC10".into(),
        name: format!("検査{code}"),
        value_num: value,
        value_text: value.map_or("陰性".into(), |v| v.to_string()),
        unit: "mg/dL".into(),
        reference_range: "0.6-1.1".into(),
        abnormal: abnormal.into(),
        observed_at: datetime!(2026-11-20 09:00 +09:00) + time::Duration::minutes(minute.into()),
    }
}

fn drug(name: &str, days: Option<u32>, segment: usize) -> tsunagu_store::PrescriptionIn {
    tsunagu_store::PrescriptionIn {
        order_control: "NW".into(),
        order_number: "R-1".into(),
        rp_number: "1".into(),
        drug_code: "100795402".into(),
        drug_code_system: "HOT".into(),
        drug_alt_code: String::new(),
        drug_alt_code_system: String::new(),
        drug_name: name.into(),
        dose: "1".into(),
        dose_unit: "錠".into(),
        daily_dose: "3".into(),
        daily_dose_unit: "錠".into(),
        dosage_form: "内服".into(),
        route: "経口".into(),
        timing_code: "1013044400000000".into(),
        timing_text: "１日３回朝昼夕食後".into(),
        instructions: String::new(),
        days,
        total_occurrences: days.map_or(Some(10), |_| None),
        dispense_amount: String::new(),
        dispense_unit: String::new(),
        prescribed_at: datetime!(2026-11-20 10:00 +09:00),
        start_date: days.map(|_| date!(2026 - 11 - 20)),
        end_date: None,
        prescriber_id: "D1".into(),
        prescriber_name: "医師 一郎".into(),
        department: "内科".into(),
        ordering_facility: "A".into(),
        ordering_facility_code: "0610111114".into(),
        source_segment: segment,
    }
}

/// An SS-MIX2 import batch (one transaction): each file goes onto the chart of the
/// patient its organization registered under the file's local id, once (also when it
/// comes twice in one batch), with its provenance row and an audit record naming the
/// patient; a file of an unregistered local id, or of another organization's, adds
/// nothing. What is stored is what was read, item for item, across statements of
/// several hundred rows.
#[tokio::test]
async fn an_import_batch_writes_each_file_once_with_its_provenance_and_audit() {
    use tsunagu_store::{ImportFile, ImportOutcome, LabFile, PrescriptionFile};
    let db = fresh().await;
    let s = &db.store;
    let ctx = AuditCtx::default();
    let (a, b) = (org(s, "A", "061011111").await, org(s, "B", "061012222").await);
    let pa = person(s, a, "a@x.jp").await;
    let hanako = register(s, &pa).await;
    let taro =
        match s.register_patient(&pa, &patient("佐藤", "太郎", "サトウ", "タロウ", "A-2"), false, &ctx).await.unwrap()
        {
            Registered::Created(id) => id,
            Registered::PossibleDuplicates(_) => panic!("unexpected duplicate"),
        };
    let few = [lab("3C015", Some(1.4), "H", 0), lab("5A010", None, "", 1), lab("3D010", Some(98.0), "", 2)];
    let many: Vec<_> = (0..300u32).map(|i| lab(&format!("C{i:03}"), Some(f64::from(i)), "", (i % 60) as u8)).collect();
    let drugs = [drug("ロキソプロフェン錠60mg", None, 1), drug("大建中湯", Some(14), 2)];
    let lab_file = |org, local, sha, results| {
        ImportFile::Lab(LabFile { org, local_patient_id: local, sha256: sha, path: "p", results })
    };
    let files = [
        lab_file(a, "A-1", "s1", &few[..]),
        ImportFile::Prescriptions(PrescriptionFile {
            org: a,
            local_patient_id: "A-2",
            sha256: "s2",
            path: "q",
            prescriptions: &drugs,
        }),
        lab_file(a, "Z-9", "s3", &few[..]),
        lab_file(a, "A-1", "s1", &few[..]),
        lab_file(b, "A-1", "s4", &few[..]),
        lab_file(a, "A-1", "s5", &many[..]),
    ];
    let outcomes = s.import_files(&files, &ctx).await.unwrap();
    assert_eq!(
        outcomes,
        [
            ImportOutcome::Imported(3),
            ImportOutcome::Imported(2),
            ImportOutcome::UnknownPatient,
            ImportOutcome::AlreadyImported,
            ImportOutcome::UnknownPatient,
            ImportOutcome::Imported(300),
        ]
    );
    assert_eq!(s.system_lab_counts().await.unwrap(), (303, 2));
    assert_eq!(s.system_prescription_counts().await.unwrap(), (2, 1));

    // Item for item on the chart, from the importing organization.
    let g = s.open_chart(&pa, hanako, ChartAction::Read, "labs.read", &ctx).await.unwrap();
    let stored = s.lab_results(&g).await.unwrap();
    assert_eq!(stored.len(), 303);
    let creatinine = stored.iter().find(|l| l.code == "3C015").unwrap();
    assert_eq!(
        (creatinine.value_num, creatinine.abnormal.as_str(), creatinine.unit.as_str(), creatinine.org_id),
        (Some(1.4), "H", "mg/dL", a)
    );
    let negative = stored.iter().find(|l| l.code == "5A010").unwrap();
    assert_eq!((negative.value_num, negative.value_text.as_str()), (None, "陰性"));
    let mut imported: Vec<f64> =
        stored.iter().filter(|l| l.code.starts_with('C')).filter_map(|l| l.value_num).collect();
    imported.sort_by(f64::total_cmp);
    assert_eq!(imported, (0..300u32).map(f64::from).collect::<Vec<_>>());
    let g = s.open_chart(&pa, taro, ChartAction::Read, "prescriptions.read", &ctx).await.unwrap();
    let rx = s.prescriptions(&g).await.unwrap();
    let kampo = rx.iter().find(|r| r.drug_name == "大建中湯").unwrap();
    assert_eq!(
        (kampo.days, kampo.total_occurrences, kampo.start_date.as_deref()),
        (Some(14), None, Some("2026-11-20"))
    );
    let loxo = rx.iter().find(|r| r.drug_name.starts_with("ロキソ")).unwrap();
    assert_eq!((loxo.days, loxo.total_occurrences, loxo.start_date.as_deref()), (None, Some(10), None));

    // One audit record per file imported, naming its patient; none for the others.
    let labs = s.audit_recent(Some("import.labs"), 10).await.unwrap();
    assert_eq!(labs.len(), 2);
    assert!(labs.iter().all(|r| r.patient_id.as_deref() == Some(hanako.to_string().as_str())));
    assert!(labs.iter().any(|r| r.target == "s5" && r.detail == "{\"results\":300}"));
    let rx_audit = s.audit_recent(Some("import.prescriptions"), 10).await.unwrap();
    assert_eq!(rx_audit.len(), 1);
    assert_eq!(rx_audit[0].patient_id.as_deref(), Some(taro.to_string().as_str()));
    assert_eq!(rx_audit[0].detail, "{\"prescriptions\":2}");

    // Again: nothing new; the one-file path says so too.
    let again = s.import_files(&files, &ctx).await.unwrap();
    assert_eq!(again.iter().filter(|o| **o == ImportOutcome::AlreadyImported).count(), 4);
    let ImportFile::Lab(first) = files[0] else { panic!("the first file is a lab file") };
    assert_eq!(s.import_lab_file(&first, &ctx).await.unwrap(), ImportOutcome::AlreadyImported);
    assert_eq!(s.system_lab_counts().await.unwrap(), (303, 2));
    assert_eq!(s.audit_recent(Some("import.labs"), 10).await.unwrap().len(), 2);
    db.finish().await;
}

/// The n-th synthetic patient of a batch: names spelled from `n`, born the same day as
/// [`patient`]'s.
fn numbered(n: usize, local_id: &str) -> NewPatient {
    let spell =
        |set: [char; 10]| -> String { n.to_string().chars().map(|c| set[c.to_digit(10).unwrap() as usize]).collect() };
    let kana = format!("タ{}", spell(['ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ']));
    let kanji = format!("太{}", spell(['零', '壱', '弐', '参', '肆', '伍', '陸', '漆', '捌', '玖']));
    patient("登録", &kanji, "トウロク", &kana, local_id)
}

/// The creates of a FHIR transaction are registered together: each patient whole (its
/// registry row, version 1, the owner's team row, its local id, its name grams, an
/// audit record), an update among them in its place, and a local id refused at the
/// index of the patient that brought it, with nothing written.
#[tokio::test]
async fn a_batch_of_registrations_writes_each_patient_whole_and_names_the_one_refused() {
    use tsunagu_store::{BatchError, PatientWrite};
    let db = fresh().await;
    let s = &db.store;
    let ctx = AuditCtx::default();
    let ((a, pa), (_, pb)) = two_clinics(s).await;
    let hanako = register(s, &pa).await;
    let creates = |ns: std::ops::Range<usize>| -> Vec<PatientWrite> {
        ns.map(|n| PatientWrite::Create(numbered(n, &format!("T-{n}")))).collect()
    };

    // A local id the organization uses already, or one that comes twice: refused at
    // that patient, and nothing of the batch is written.
    let mut taken = creates(0..5);
    taken[3] = PatientWrite::Create(numbered(3, "A-1"));
    let mut twice = creates(0..6);
    twice[5] = PatientWrite::Create(numbered(5, "T-2"));
    for (writes, index) in [(taken, 3), (twice, 5)] {
        let f = s.write_patients(&pa, &writes, &ctx).await.unwrap_err();
        assert_eq!(f.index, index);
        assert!(matches!(f.error, BatchError::Store(StoreError::Conflict { field: "local_id", .. })), "{f:?}");
        assert_eq!(s.count_patients().await.unwrap(), 1);
    }

    // 150 creates, an update, 10 more creates: one transaction, in order.
    let g = s.open_chart(&pa, hanako, ChartAction::Write, "fhir.transaction.update", &ctx).await.unwrap();
    let mut writes = creates(0..150);
    writes.push(PatientWrite::Update {
        grant: g,
        expected: Some(1),
        patient: patient("山田", "春子", "ヤマダ", "ハルコ", "A-1"),
    });
    writes.extend(creates(150..160));
    let done = s.write_patients(&pa, &writes, &ctx).await.unwrap();
    assert_eq!(done.len(), 161);
    assert_eq!((done[150].id, done[150].version, done[150].created), (hanako, 2, false));
    let created: Vec<_> = done[..150].iter().chain(&done[151..]).collect();
    assert!(created.iter().all(|d| d.created && d.version == 1 && d.recorded_at == done[150].recorded_at));
    let ids: std::collections::HashSet<PatientId> = done.iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 161, "every create is a patient of its own");
    assert_eq!(s.count_patients().await.unwrap(), 161);

    // Each whole: version 1 as written, the owner's team row, the local id, the name.
    for n in [0, 149, 155] {
        let d = created[n];
        let g = s.open_chart(&pa, d.id, ChartAction::Read, "patient.read", &ctx).await.unwrap();
        let r = s.patient_record(&g).await.unwrap();
        assert_eq!(
            (r.version, r.via.as_str(), r.recorded_at.as_str(), r.given_kana.as_str(), r.owner_org_id),
            (1, "fhir", d.recorded_at.as_str(), numbered(n, "").given_kana.as_str(), a)
        );
        let team = s.team(&g).await.unwrap();
        assert_eq!(team.iter().map(|t| (t.org_id, t.role)).collect::<Vec<_>>(), [(a, TeamRole::Owner)]);
        let by_local = SearchQuery { local_id: Some(format!("T-{n}")), ..Default::default() };
        let hits = s.search_patients(&pa, &by_local, &ctx).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [d.id]);
        assert!(s.open_chart(&pb, d.id, ChartAction::Read, "patient.read", &ctx).await.is_err());
    }
    assert_eq!(found(s, &pa, "タイカカ").await, ["登録太壱伍伍"], "the name grams of a batch");
    assert_eq!(found(s, &pa, "ハルコ").await, ["山田春子"], "the update's");

    // One audit record per patient registered, naming it.
    let registered = s.audit_recent(Some("patient.register"), 500).await.unwrap();
    let batch: Vec<_> = registered.iter().filter(|r| r.detail == "via fhir").collect();
    assert_eq!(batch.len(), 160);
    let named: std::collections::HashSet<String> = batch.iter().filter_map(|r| r.patient_id.clone()).collect();
    assert_eq!(named, created.iter().map(|d| d.id.to_string()).collect());
    db.finish().await;
}

/// Possible duplicates of many patients in one look-up: each patient gets its own (same
/// birth date, and the same kana or kanji name), only among the patients the asker
/// reaches; across the look-up's chunks.
#[tokio::test]
async fn possible_duplicates_of_many_patients_are_each_their_own() {
    use tsunagu_store::PatientWrite;
    let db = fresh().await;
    let s = &db.store;
    let ctx = AuditCtx::default();
    let ((_, pa), (_, pb)) = two_clinics(s).await;
    let writes: Vec<_> = (0..160).map(|n| PatientWrite::Create(numbered(n, ""))).collect();
    let done = s.write_patients(&pa, &writes, &ctx).await.unwrap();

    let asked: Vec<NewPatient> = (0..160).map(|n| numbered(n, "")).collect();
    let dups = s.possible_duplicates_of(&pa, &asked.iter().collect::<Vec<_>>()).await.unwrap();
    assert_eq!(dups.len(), 160);
    for (n, d) in dups.iter().enumerate() {
        assert_eq!(d.iter().map(|p| p.id).collect::<Vec<_>>(), [done[n].id], "patient {n}");
    }

    // The same kanji name with another kana, the same kana with another kanji name: both
    // duplicates. Another birth date, or a name of nobody: none.
    let same_kanji = patient("登録", "太零", "ベツ", "カナ", "");
    let same_kana = patient("別", "名", "トウロク", "タイ", "");
    let mut other_day = numbered(7, "");
    other_day.birth_date = date!(1938 - 07 - 16);
    let nobody = patient("無", "縁", "ム", "エン", "");
    let asked = [&same_kanji, &same_kana, &other_day, &nobody];
    let dups = s.possible_duplicates_of(&pa, &asked).await.unwrap();
    let ids: Vec<Vec<PatientId>> = dups.iter().map(|d| d.iter().map(|p| p.id).collect()).collect();
    assert_eq!(ids, [vec![done[0].id], vec![done[1].id], vec![], vec![]]);

    // B reaches none of A's patients: no duplicates shown to it.
    let dups = s.possible_duplicates_of(&pb, &[&numbered(0, "")]).await.unwrap();
    assert_eq!(dups.iter().map(Vec::len).collect::<Vec<_>>(), [0]);
    assert_eq!(s.possible_duplicates(&pa, &numbered(0, "")).await.unwrap().len(), 1);
    db.finish().await;
}
