-- The FHIR API reads a resource by its own id (`Observation/<id>`, `Binary/<id>`, ...)
-- before it knows the patient: it looks up the owning chart by that id, then opens the
-- chart through the access policy. Every clinical table keeps the patient id first in
-- its primary key (docs/scaling.md); these secondary indexes serve only the lookup of
-- the owner by id, which would otherwise scan the whole table.
CREATE INDEX lab_results_by_id ON lab_results (id);
CREATE INDEX prescriptions_by_id ON prescriptions (id);
CREATE INDEX entries_by_entry ON entries (entry_id);
CREATE INDEX attachments_by_id ON attachments (id);
CREATE INDEX symptom_assessments_by_id ON symptom_assessments (id);
