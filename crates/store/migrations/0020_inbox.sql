-- The inbox counts, for each patient on the reader's team, the mentions of the reader
-- or their organization since they last looked. Without an index led by the patient,
-- both databases answered that from the user and organization indexes, walking every
-- mention of the organization once per team patient: 18 s for a hospital with 19,661
-- patients at the full synthetic scale (bench/results/inbox.md). Led by patient_id, as
-- docs/scaling.md asks of every clinical index.
CREATE INDEX mentions_patient ON mentions (patient_id, at);
