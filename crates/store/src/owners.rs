//! Which chart a resource belongs to, found by the resource's own id: the FHIR API is
//! asked for `Observation/<id>` or `Binary/<id>` before it knows the patient, and must
//! open that patient's chart through the access policy before it shows anything. The
//! answer is only a patient id; nothing of the resource is read here.

use crate::Result;
use crate::db::Store;
use crate::orgs::parse_uuid;
use sqlx::Row;
use tsunagu_domain::PatientId;

/// A kind of record found by its own id (each served by an index on that id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    LabResult,
    Prescription,
    /// A chart entry, by its entry id (any version).
    Entry,
    Attachment,
    SymptomAssessment,
    Letter,
    /// A task of a hospital-to-home checklist.
    TransitionTask,
}

impl Owned {
    fn query(self) -> &'static str {
        match self {
            Owned::LabResult => "SELECT patient_id FROM lab_results WHERE id = $1",
            Owned::Prescription => "SELECT patient_id FROM prescriptions WHERE id = $1",
            Owned::Entry => "SELECT patient_id FROM entries WHERE entry_id = $1 LIMIT 1",
            Owned::Attachment => "SELECT patient_id FROM attachments WHERE id = $1",
            Owned::SymptomAssessment => "SELECT patient_id FROM symptom_assessments WHERE id = $1",
            Owned::Letter => "SELECT patient_id FROM letters WHERE id = $1",
            Owned::TransitionTask => "SELECT patient_id FROM transition_tasks WHERE id = $1",
        }
    }
}

impl Store {
    /// The patient whose chart holds the record `id` of this kind (`None` when there
    /// is no such record). Ids are UUIDs, unique across patients.
    pub async fn patient_owning(&self, kind: Owned, id: &str) -> Result<Option<PatientId>> {
        let r = sqlx::query(kind.query()).bind(id).fetch_optional(&self.read).await?;
        match r {
            Some(r) => Ok(Some(parse_uuid(&r.try_get::<String, _>("patient_id")?)?)),
            None => Ok(None),
        }
    }
}
