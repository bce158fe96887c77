//! Storage of tsunagu: one code path for SQLite and PostgreSQL through `sqlx::Any`,
//! embedded migrations, scoped look-ups of patient data and the hash-chained audit.
//!
//! Patient data is reachable only through a [`ChartGrant`], which only
//! [`Store::open_chart`] hands out after the domain policy said yes, and which records
//! the access (or the refusal) in the audit chain.

mod acp;
mod audit;
mod backup;
mod bulk;
mod chart;
mod checkpoint;
mod dashboard;
mod db;
mod emergency;
mod error;
mod family;
mod group_commit;
mod imports;
mod labs;
mod letters;
mod migrate;
mod name_grams;
mod notify;
mod orgs;
mod owners;
mod passkeys;
mod patient_versions;
mod patients;
mod prescriptions;
mod programme;
mod reach_cache;
mod registration;
mod research;
mod second_factor;
mod surveys;
mod symptoms;
mod transition;
mod users;

pub use acp::{AcpView, Recorded};
pub use audit::{AuditCtx, AuditEvent, AuditRow, Outcome, VerifyReport};
pub use bulk::{
    BulkBatch, BulkLoader, BulkTable, BulkValue, DataCounts, RegistrationRows, entry_content_hash, letter_content_hash,
};
pub use chart::{
    AttachmentRow, EntryForIndex, EntryView, ErrorMark, FulltextRow, InboxList, InboxPaging, InboxRow, Mention,
    TimelineFilter,
};
pub use dashboard::{ContactFigure, OutcomeFigures, PillarFigure, SurveyResult, SymptomChange};
pub use db::{Backend, OpenMode, Store, redact_url, ts};
pub use emergency::{EMERGENCY_MINUTES, EmergencyAlert, EmergencyRow};
pub use error::StoreError;
pub use family::{
    DiaryAlertRow, DiaryPhoto, DiaryRow, FamilyAccountRow, FamilyHome, FamilyInvitationOpen, FamilyInvitationRow,
    FamilyInvitationStatus, FamilyMessageRow, FamilyPrincipal, FamilySessionRow, NewFamilyAccount, SharedDocumentRow,
    TeamContactRow, TodayVisitRow, VisitRow,
};
pub use imports::{ImportFile, ImportOutcome};
pub use labs::{LabFile, LabResultIn, LabResultRow};
pub use letters::{LetterAttachment, LetterBoxRow, LetterContent, LetterEventRow, LetterSummary, LetterView, Sent};
pub use migrate::{LATEST_VERSION, MigrationStatus};
pub use notify::{OutboxRow, Recipients};
pub use orgs::{NewOrg, OrgRow, OrgUpdate};
pub use owners::Owned;
pub use passkeys::PasskeyRow;
pub use patient_versions::{
    BatchError, BatchFailure, FhirExportRow, IdentifierMatch, LocalIdentifier, PatientFilter, PatientRecord,
    PatientUpdate, PatientWrite, PatientWritten,
};
pub use patients::{
    AccessLogRow, ChartGrant, ConsentRow, IdentifierRow, KeyPersonRow, PatientRow, PatientSummary, Registered,
    SearchQuery, TeamMemberRow,
};
pub use prescriptions::{PrescriptionFile, PrescriptionIn, PrescriptionRow};
pub use programme::{ActionPlanRow, ActivityRow, AttendanceRow, CareContactRow};
pub use research::{
    ResearchAcp, ResearchAssessment, ResearchContact, ResearchData, ResearchDeath, ResearchPatient, ResearchSurvey,
    ResearchTransition,
};
pub use second_factor::{SessionStage, TotpFactor};
pub use surveys::{InvitationRow, InvitationStatus, SurveyOpen};
pub use symptoms::AssessmentRow;
pub use transition::{
    CandidateFilter, CandidateInput, CandidateRow, CaseEventRow, CaseInput, CaseView, CommunityRole, ConferenceRow,
    ConferenceSheet, OverdueTask, TaskEventKind, TaskEventRow, TaskRow, TransitionStats,
};
pub use users::{ColleagueRow, Membership, NewSession, NewUser, SessionRow, UserRow};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
