//! The subcommands. Each works on the same data directory (or `--database-url`), so
//! `token create` and `audit verify` act on the database a running server uses.

use crate::config::{Config, GlobalArgs};
use crate::{demo, generate, reindex, server};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use time::Duration;
use tsunagu_domain::clock::{RandomIdGen, SystemClock};
use tsunagu_domain::org::{Capabilities, InstitutionCode, OrgKind, OrgStatus, parse_coordinates};
use tsunagu_domain::person::{Email, Profession, check_new_password};
use tsunagu_store::{AuditCtx, NewOrg, NewUser, OpenMode, Store};
use tsunagu_web::password::{hash_password, hash_password_with_salt, random_token, sha256_hex};

#[derive(Debug, Parser)]
#[command(
    name = "tsunagu",
    version,
    about = "tsunagu (つなぐ): a regional shared care record for home and palliative care"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the application (the database must exist; pending migrations are applied)
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Create the database if needed and apply pending migrations
    Migrate,
    /// Create a demo region in the data directory (when empty) and serve it
    Demo {
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Ask a running server for its health; exit code 0 when healthy
    Healthcheck {
        /// Base URL of the server (default: http://<listen address>)
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage people
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens (for the JSON and FHIR APIs)
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit chain
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write the outcome data, de-identified, for researchers: CSV and NDJSON files with
    /// a data dictionary (see docs/outcomes.md)
    ExportResearch {
        /// The directory to write into
        #[arg(long)]
        to: PathBuf,
    },
    /// Load a questionnaire definition (a JSON file, see docs/outcomes.md); the same
    /// id and version twice is accepted only unchanged
    InstrumentLoad {
        /// The definition file
        file: PathBuf,
    },
    /// Import data from other systems
    #[command(subcommand)]
    Import(ImportCommand),
    /// Rebuild the full-text search index (DIR/search-index) from the database; the
    /// server must be stopped
    Reindex,
    /// Back up the SQLite database and every attachment into one file, while the server
    /// runs (PostgreSQL: use pg_dump, see docs/operations.md)
    Backup {
        /// The backup file, or a directory to put a time-named backup file in
        #[arg(long)]
        to: PathBuf,
        /// With a directory: keep only this many newest backup files there
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Restore a backup file into an empty data directory, checking every hash
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Fill an empty database with a synthetic prefecture for measuring (organizations,
    /// staff, patients, shared charts); the same seed writes the same data. See
    /// bench/README.md
    Generate {
        /// Patients in the registry
        #[arg(long, default_value_t = 10_000)]
        patients: u64,
        /// Patients with a chart shared by a care team of 3-5 organizations
        #[arg(long, default_value_t = 100)]
        shared_charts: u64,
        /// Timeline items on each shared chart (entries and lab panels)
        #[arg(long, default_value_t = 50)]
        entries_per_chart: u32,
        /// Seed of the generator
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Organizations in the prefecture (20 to 5000)
        #[arg(long, default_value_t = 1000)]
        organizations: u32,
        /// File holding the password every generated person signs in with (one line);
        /// without it no one can sign in as them
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Build the full-text search index afterwards (otherwise run `tsunagu reindex`)
        #[arg(long)]
        reindex: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Lab results and prescriptions from a hospital's SS-MIX2 standardized storage, onto
    /// the charts of the patients the organization registered under those local ids; each
    /// file once
    #[command(name = "ss-mix2")]
    SsMix2 {
        /// The storage root (the folder holding the 3-digit patient folders)
        dir: PathBuf,
        /// Institution code of the organization the storage comes from
        #[arg(long)]
        org: String,
        /// Encoding of files that do not announce one: iso-2022-jp (default), shift_jis, utf-8
        #[arg(long, default_value = "iso-2022-jp")]
        encoding: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a person as a member of an organization
    Create {
        /// Institution code of the organization
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// physician, dentist, nurse, pharmacist, care_manager, msw, physical_therapist,
        /// occupational_therapist, speech_therapist, dietitian, care_worker, clerk
        #[arg(long)]
        profession: String,
        /// File holding the initial password (one line)
        #[arg(long)]
        password_file: PathBuf,
        #[arg(long, default_value = "")]
        kana: String,
        /// Make the person an administrator of the organization
        #[arg(long)]
        admin: bool,
        /// Make the person a network operator (approves organizations)
        #[arg(long)]
        operator: bool,
    },
    /// Remove a person's authenticator and recovery codes (a lost phone and lost codes)
    /// after checking who they are in person; they set up a new one at next sign-in.
    /// Their sessions end. Recorded in the audit chain.
    ResetSecondFactor {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an approved organization (bootstrap of a new region)
    Create {
        /// 10-digit institution code (a support centre or medical association may have none)
        #[arg(long)]
        code: Option<String>,
        /// hospital, clinic, visiting_nurse_station, care_facility, care_manager_office,
        /// pharmacy, support_centre, medical_association
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        address: String,
        #[arg(long, default_value = "")]
        lat: String,
        #[arg(long, default_value = "")]
        lon: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new bearer token for a person (stored hashed; shown once)
    Create {
        /// The person's e-mail address
        #[arg(long)]
        user: String,
        /// Institution code of the organization to act for (default: the first)
        #[arg(long)]
        org: Option<String>,
        /// Days until the token expires (default: never)
        #[arg(long)]
        expires: Option<u32>,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by its id (printed by `token create`)
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 1 and name the first broken row if any
    Verify,
}

/// The questionnaires tsunagu ships, loaded when missing (an unchanged definition is
/// left alone; a site's own newer version stays the one in use).
pub async fn load_shipped_instruments(store: &Store) -> Result<()> {
    for text in tsunagu_domain::questionnaire::SHIPPED {
        let i = tsunagu_domain::questionnaire::Instrument::from_json(text)
            .map_err(|_| anyhow!("a shipped instrument definition does not parse"))?;
        match store.load_instrument(&i).await {
            Ok(_) | Err(tsunagu_store::StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn cli_ctx() -> AuditCtx {
    AuditCtx { ip: Some("cli".into()), request_id: None }
}

pub async fn open_store(cfg: &Config, mode: OpenMode) -> Result<Store> {
    let url = cfg.database_url();
    let store = Store::open(&url, mode, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    store.check_schema_not_newer().await?;
    Ok(store)
}

/// The attachment store, checked before the server starts: a misconfigured bucket
/// shows now, not at the first upload at a patient's bedside.
pub(crate) async fn open_blobs(cfg: &Config) -> Result<tsunagu_blobs::Blobs> {
    let blobs = tsunagu_blobs::Blobs::from_config(&cfg.blob_config())?;
    blobs.check().await.with_context(|| format!("attachment storage {} is not usable", blobs.describe()))?;
    Ok(blobs)
}

async fn open_current(cfg: &Config) -> Result<Store> {
    let store = open_store(cfg, OpenMode::MustExist).await?;
    if !store.is_current().await? {
        bail!("the database schema is not current; run `tsunagu migrate`");
    }
    Ok(store)
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let mut cfg = Config::load(&cli.global)?;
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let store = open_store(&cfg, OpenMode::MustExist).await?;
            let st = store.migrate().await?;
            for m in &st.applied {
                println!("applied migration {m}");
            }
            load_shipped_instruments(&store).await?;
            let blobs = open_blobs(&cfg).await?;
            let search = reindex::open_index(&cfg.data_dir)?;
            reindex::rebuild_in_background_if_behind(store.clone(), search.clone());
            server::serve(server::state_with(store, cfg.web.clone(), blobs, search), cfg.listen).await?;
        }
        Command::Migrate => {
            if cfg.database_url.is_none() {
                std::fs::create_dir_all(&cfg.data_dir)
                    .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
            }
            let store = open_store(&cfg, OpenMode::CreateIfMissing).await?;
            let st = store.migrate().await?;
            println!("schema version {} -> {} ({} applied)", st.before, st.after, st.applied.len());
            load_shipped_instruments(&store).await?;
        }
        Command::ExportResearch { to } => {
            let store = open_current(&cfg).await?;
            let e = crate::research::export(&store, &to).await?;
            println!("wrote {} ({} patients) to {}", e.files.join(", "), e.patients, to.display());
        }
        Command::InstrumentLoad { file } => {
            let store = open_current(&cfg).await?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let i = tsunagu_domain::questionnaire::Instrument::from_json(&text)
                .map_err(|_| anyhow!("{}: not a valid instrument definition (see docs/outcomes.md)", file.display()))?;
            match store.load_instrument(&i).await {
                Ok(true) => println!("loaded {} version {}", i.id, i.version),
                Ok(false) => println!("{} version {} was already loaded, unchanged", i.id, i.version),
                Err(tsunagu_store::StoreError::Conflict { .. }) => {
                    return Err(anyhow!(
                        "{} version {} is already loaded with a different definition: give the changed definition a new version",
                        i.id,
                        i.version
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Demo { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if cfg.database_url.is_none() {
                std::fs::create_dir_all(&cfg.data_dir)
                    .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
            }
            let store = open_store(&cfg, OpenMode::CreateIfMissing).await?;
            store.migrate().await?;
            let (m, t, p) = (cfg.web.argon2_m_kib, cfg.web.argon2_t, cfg.web.argon2_p);
            let hash = hash_password(demo::DEMO_PASSWORD, m, t, p)?;
            match demo::seed_if_empty(&store, &hash).await? {
                Some(s) => println!(
                    "seeded the demo region: {} organizations, {} people, {} patients, {} chart entries, {} letters",
                    s.orgs, s.users, s.patients, s.entries, s.letters
                ),
                None => println!("the data directory already holds data; not seeding"),
            }
            print_demo_logins(&cfg);
            let mut web = cfg.web.clone();
            web.demo_banner = true;
            // The demo's made-up accounts may sign in with the password alone; a real
            // server (`serve`) always requires the second factor.
            web.second_factor_required = false;
            let blobs = open_blobs(&cfg).await?;
            let search = reindex::open_index(&cfg.data_dir)?;
            reindex::rebuild_in_background_if_behind(store.clone(), search.clone());
            server::serve(server::state_with(store, web, blobs, search), cfg.listen).await?;
        }
        Command::Healthcheck { url } => {
            let base = url.unwrap_or_else(|| {
                let mut a = cfg.listen;
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
                }
                format!("http://{a}")
            });
            return Ok(healthcheck(&base).await);
        }
        Command::User(UserCommand::Create { org, email, name, profession, password_file, kana, admin, operator }) => {
            let store = open_current(&cfg).await?;
            let code =
                InstitutionCode::parse(&org).map_err(|_| anyhow!("--org: not a valid 10-digit institution code"))?;
            let org = store.get_org_by_code(&code).await.map_err(|_| anyhow!("no organization with code {code}"))?;
            let email = Email::parse(&email).map_err(|_| anyhow!("--email: not a valid e-mail address"))?;
            let profession = Profession::parse(&profession).map_err(|_| {
                let all: Vec<_> = Profession::ALL.iter().map(|p| p.as_str()).collect();
                anyhow!("--profession: unknown; use one of {}", all.join(", "))
            })?;
            let pw = std::fs::read_to_string(&password_file)
                .with_context(|| format!("reading {}", password_file.display()))?;
            let pw = pw.trim_end_matches(['\n', '\r']);
            check_new_password(pw).map_err(|_| anyhow!("the password must have at least 10 characters"))?;
            let kana = if kana.trim().is_empty() {
                String::new()
            } else {
                tsunagu_domain::patient::parse_kana("kana", &kana)
                    .map_err(|_| anyhow!("--kana: use hiragana or katakana"))?
            };
            // People work for several organizations: an existing account gains a membership.
            if let Ok(existing) = store.user_by_email(&email).await {
                store.add_membership(existing.id, org.id, admin, &cli_ctx()).await?;
                println!("{} is now also a member of {}", existing.email, org.name);
                return Ok(ExitCode::SUCCESS);
            }
            let hash = hash_password(pw, cfg.web.argon2_m_kib, cfg.web.argon2_t, cfg.web.argon2_p)?;
            let nu = NewUser {
                email,
                display_name: name.trim().to_string(),
                name_kana: kana,
                profession,
                password_hash: hash,
                operator,
            };
            let id = store.create_user(&nu, org.id, admin, None, &cli_ctx()).await?;
            println!("created user {id} at {}", org.name);
        }
        Command::User(UserCommand::ResetSecondFactor { email }) => {
            let store = open_current(&cfg).await?;
            let email = Email::parse(&email).map_err(|_| anyhow!("--email: not a valid e-mail address"))?;
            let user = store.user_by_email(&email).await.map_err(|_| anyhow!("no person with that e-mail address"))?;
            if store.reset_second_factor(user.id, &cli_ctx()).await? {
                println!("removed the authenticator of {}; they set up a new one at their next sign-in", user.email);
            } else {
                println!("{} had no authenticator; their sessions were ended", user.email);
            }
        }
        Command::Org(OrgCommand::Create { code, kind, name, address, lat, lon }) => {
            let store = open_current(&cfg).await?;
            let code = code
                .map(|c| {
                    InstitutionCode::parse(&c).map_err(|_| anyhow!("--code: not a valid 10-digit institution code"))
                })
                .transpose()?;
            let kind = OrgKind::parse(&kind).map_err(|_| anyhow!("--kind: unknown organization kind"))?;
            let coordinates =
                parse_coordinates(&lat, &lon).map_err(|_| anyhow!("--lat/--lon: not valid coordinates"))?;
            let o = NewOrg {
                code,
                kind,
                name: name.trim().to_string(),
                name_kana: String::new(),
                postal_code: None,
                address: Some(address).filter(|a| !a.trim().is_empty()),
                phone: None,
                night_phone: None,
                coordinates,
                capabilities: Capabilities::default(),
            };
            let id = store.create_org(&o, OrgStatus::Approved, None, &cli_ctx()).await?;
            println!("created organization {id}");
        }
        Command::Token(TokenCommand::Create { user, org, expires, label }) => {
            let store = open_current(&cfg).await?;
            let email = Email::parse(&user).map_err(|_| anyhow!("--user: not a valid e-mail address"))?;
            let u = store.user_by_email(&email).await.map_err(|_| anyhow!("no user {}", email.as_str()))?;
            if !u.is_active() {
                bail!("the account is suspended");
            }
            let memberships = store.memberships(u.id).await?;
            let m = match org {
                Some(code) => {
                    let code =
                        InstitutionCode::parse(&code).map_err(|_| anyhow!("--org: not a valid institution code"))?;
                    memberships.iter().find(|m| m.org.code.as_deref() == Some(code.as_str()))
                }
                None => memberships.iter().find(|m| m.org.is_approved()),
            }
            .ok_or_else(|| anyhow!("the person is not a member of an approved organization"))?;
            let token = format!("tsu_{}", random_token()?);
            let expires_at = expires.map(|d| store.now() + Duration::days(i64::from(d)));
            let id = store.create_token(u.id, m.org.id, &sha256_hex(&token), &label, expires_at, &cli_ctx()).await?;
            eprintln!("token id {id} for {} at {} (shown once; store it safely)", u.email, m.org.name);
            println!("{token}");
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            let store = open_current(&cfg).await?;
            store.revoke_token(&id, &cli_ctx()).await.map_err(|_| anyhow!("no active token {id}"))?;
            println!("revoked {id}");
        }
        Command::Import(ImportCommand::SsMix2 { dir, org, encoding }) => {
            let store = open_current(&cfg).await?;
            let code =
                InstitutionCode::parse(&org).map_err(|_| anyhow!("--org: not a valid 10-digit institution code"))?;
            let org = store.get_org_by_code(&code).await.map_err(|_| anyhow!("no organization with code {code}"))?;
            let fallback = match encoding.as_str() {
                "iso-2022-jp" => tsunagu_hl7::decode::Charset::Iso2022Jp,
                "shift_jis" => tsunagu_hl7::decode::Charset::ShiftJis,
                "utf-8" => tsunagu_hl7::decode::Charset::Utf8,
                other => bail!("--encoding {other:?}: use iso-2022-jp, shift_jis or utf-8"),
            };
            // A spinner on a terminal; nothing when the output is a file or a pipe.
            let bar = indicatif::ProgressBar::new_spinner();
            if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let started = std::time::Instant::now();
            let on_file = |done: usize, _: usize| {
                bar.set_message(format!("{done} files"));
                bar.tick();
            };
            let s = crate::import::ss_mix2(&store, org.id, &dir, fallback, &cli_ctx(), &on_file).await?;
            bar.finish_and_clear();
            println!(
                "{} files read in {:.1} s: {} lab files imported ({} results), {} prescription files imported \
                 ({} prescriptions), {} imported before",
                s.files,
                started.elapsed().as_secs_f64(),
                s.lab_files,
                s.lab_results,
                s.prescription_files,
                s.prescriptions,
                s.already_imported
            );
            for (kind, n) in &s.not_imported {
                println!("  {kind}: {n} file(s) read, not imported (only lab results and prescriptions are imported)");
            }
            if !s.unknown_patients.is_empty() {
                println!(
                    "  {} patient id(s) with lab or prescription files are not registered by {} (register them, then \
                     run again): {}",
                    s.unknown_patients.len(),
                    org.name,
                    s.unknown_patients.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            for (path, why) in &s.bad {
                eprintln!("  not imported: {}: {why}", path.display());
            }
        }
        Command::Reindex => {
            let store = open_current(&cfg).await?;
            let index = reindex::open_index(&cfg.data_dir)?;
            let total = store.system_count_current_entries().await?;
            let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(0));
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries ({elapsed}, {eta} left)")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let rt = tokio::runtime::Handle::current();
            let (s, i, b) = (store.clone(), index.clone(), bar.clone());
            let n = tokio::task::spawn_blocking(move || {
                reindex::rebuild_blocking(&rt, &s, &i, &|done| b.set_position(done))
            })
            .await
            .context("the reindex task failed")??;
            bar.finish_and_clear();
            println!(
                "reindexed {n} entries into {} in {:.1} s",
                reindex::index_dir(&cfg.data_dir).display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Backup { to, keep } => {
            let b = crate::backup::backup(&cfg, &to, keep).await?;
            println!(
                "backed up the database (schema {}, audit chain to record {}) and {} attachment(s) to {}",
                b.manifest.schema_version,
                b.manifest.audit_seq,
                b.manifest.objects.len(),
                b.file.display()
            );
            for r in &b.removed {
                println!("removed the old backup {}", r.display());
            }
        }
        Command::Restore { from } => {
            let r = crate::backup::restore(&cfg, &from).await?;
            println!(
                "restored the backup of {} (schema {}, audit chain verified to record {}) and {} attachment(s) into {}; \
                 run `tsunagu reindex` to rebuild the search index",
                r.manifest.created_at,
                r.manifest.schema_version,
                r.manifest.audit_seq,
                r.manifest.objects.len(),
                cfg.data_dir.display()
            );
        }
        Command::Generate {
            patients,
            shared_charts,
            entries_per_chart,
            seed,
            organizations,
            password_file,
            reindex,
        } => {
            return run_generate(
                &cfg,
                &cli.global,
                generate::Options {
                    organizations,
                    patients,
                    shared_charts,
                    entries_per_chart,
                    seed,
                    password_hash: None,
                },
                password_file,
                reindex,
            )
            .await;
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = open_store(&cfg, OpenMode::MustExist).await?;
            let r = store.verify_audit().await?;
            return Ok(match r.first_break {
                None => {
                    println!("audit chain intact: {} rows verified", r.rows);
                    ExitCode::SUCCESS
                }
                Some((seq, why)) => {
                    eprintln!("audit chain BROKEN at row seq={seq}: {why}");
                    ExitCode::FAILURE
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tsunagu generate`: create and migrate the database like `migrate`, refuse one that
/// holds data, load, report, and build the search index or say how.
async fn run_generate(
    cfg: &Config,
    global: &GlobalArgs,
    mut opts: generate::Options,
    password_file: Option<PathBuf>,
    build_index: bool,
) -> Result<ExitCode> {
    opts.check()?;
    if let Some(f) = &password_file {
        let pw = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let pw = pw.trim_end_matches(['\n', '\r']);
        check_new_password(pw).map_err(|_| anyhow!("the password must have at least 10 characters"))?;
        let salt = generate::password_salt(opts.seed);
        opts.password_hash =
            Some(hash_password_with_salt(pw, &salt, cfg.web.argon2_m_kib, cfg.web.argon2_t, cfg.web.argon2_p)?);
    }
    if cfg.database_url.is_none() {
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    }
    let store = open_store(cfg, OpenMode::CreateIfMissing).await?;
    store.migrate().await?;
    load_shipped_instruments(&store).await?;
    generate::check_empty(&store).await?;
    // Every generated document points at one placeholder PDF, stored once.
    let attachment = if opts.shared_charts > 0 && opts.entries_per_chart > 0 {
        let blobs = open_blobs(cfg).await?;
        let stored = blobs.put(&generate::placeholder_pdf()).await.context("storing the placeholder document")?;
        Some((stored.sha256, i64::try_from(stored.size).unwrap_or(0)))
    } else {
        None
    };

    // A bar on a terminal; nothing when the output is a file or a pipe.
    let bar = indicatif::ProgressBar::new(0);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>14} {bar:40} {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let on_progress = |p: generate::Progress| match p {
        generate::Progress::Phase(name, total) => {
            bar.set_message(name);
            bar.set_length(total);
            bar.set_position(0);
        }
        generate::Progress::Done(n) => bar.inc(n),
    };
    let r = generate::generate(&store, &opts, attachment, &on_progress).await?;
    bar.finish_and_clear();

    let secs = (r.load_seconds + r.finish_seconds).max(1e-9);
    let total = r.total_rows();
    println!("generated a synthetic prefecture (seed {}) into {}", opts.seed, shown_url(&cfg.database_url()));
    println!(
        "  {} organizations, {} people, {} patients, {} shared charts with {} entries and {} lab panels",
        r.organizations, r.people, r.patients, r.shared_charts, r.entries, r.lab_panels
    );
    for (table, n) in &r.rows {
        println!("  {table:<20} {n:>12} rows");
    }
    println!(
        "  {total} rows in {secs:.1} s ({:.1} s loading, {:.1} s {}): {:.0} rows/s, {:.0} patients/s, {:.0} entries/s",
        r.load_seconds,
        r.finish_seconds,
        match store.backend() {
            tsunagu_store::Backend::Sqlite => "checkpoint",
            tsunagu_store::Backend::Postgres => "VACUUM (ANALYZE)",
        },
        total as f64 / secs,
        r.patients as f64 / secs,
        r.rows.get("entries").copied().unwrap_or(0) as f64 / secs,
    );
    if let Some(s) = &r.sample {
        println!(
            "  a shared chart to look at: /patients/{} (team member {}, outsider {}){}",
            s.patient_id,
            s.member_email,
            s.outsider_email,
            if opts.password_hash.is_some() { "" } else { "; give --password-file to sign in as them" }
        );
    }
    if build_index {
        let index = reindex::open_index(&cfg.data_dir)?;
        let started = std::time::Instant::now();
        let rt = tokio::runtime::Handle::current();
        let (s, i) = (store.clone(), index.clone());
        let n = tokio::task::spawn_blocking(move || reindex::rebuild_blocking(&rt, &s, &i, &|_| {}))
            .await
            .context("the reindex task failed")??;
        println!(
            "  indexed {n} entries for full-text search into {} in {:.1} s",
            reindex::index_dir(&cfg.data_dir).display(),
            started.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "  the full-text search index is not built: run `{}` (a server started on this database rebuilds it in the background)",
            reindex_command(global)
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `tsunagu reindex` with the options that chose this database and data directory.
fn reindex_command(global: &GlobalArgs) -> String {
    let mut cmd = String::from("tsunagu");
    if let Some(c) = &global.config {
        cmd.push_str(&format!(" --config {}", c.display()));
    }
    if let Some(d) = &global.data {
        cmd.push_str(&format!(" --data {}", d.display()));
    }
    if let Some(u) = &global.database_url {
        cmd.push_str(&format!(" --database-url {}", shown_url(u)));
    }
    cmd.push_str(" reindex");
    cmd
}

/// A database URL to print: as given, or with its password masked when it has one.
fn shown_url(url: &str) -> String {
    let has_password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .is_some_and(|(credentials, _)| credentials.contains(':'));
    if has_password { tsunagu_store::redact_url(url) } else { url.to_string() }
}

fn print_demo_logins(cfg: &Config) {
    println!();
    println!("tsunagu demo: http://{}", cfg.listen);
    println!("password for every demo account: {}", demo::DEMO_PASSWORD);
    for l in demo::demo_logins() {
        println!("  {:<32} {} ({}, {})", l.email, l.name, l.profession, l.org_name);
    }
    println!("family page: http://{}/family/signin as {}", cfg.listen, demo::DEMO_FAMILY_LOGIN);
    println!();
}

/// A plain HTTP/1.1 GET of /healthz; no client library needed in the binary.
async fn healthcheck(base: &str) -> ExitCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(hostport) = base.strip_prefix("http://").map(|r| r.trim_end_matches('/').to_string()) else {
        eprintln!("healthcheck: only http:// URLs (check the server behind the TLS proxy)");
        return ExitCode::FAILURE;
    };
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(&hostport).await?;
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), attempt).await {
        Ok(Ok(resp)) if resp.starts_with("HTTP/1.1 200") => {
            println!("healthy: {}", resp.split("\r\n\r\n").nth(1).unwrap_or(""));
            ExitCode::SUCCESS
        }
        Ok(Ok(resp)) => {
            eprintln!("unhealthy: {}", resp.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("unreachable: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("no answer within 5 s");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn printed_urls_hide_passwords_only() {
        assert_eq!(super::shown_url("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(super::shown_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::shown_url("sqlite:///data/tsunagu.db"), "sqlite:///data/tsunagu.db");
    }
}
