-- Searches start from what an organization may reach: the patients it owns and those
-- shared with it. Reach was an OR (owner, or a team member with consent), which neither
-- database can answer from an index, so every patient search, FHIR Patient search and
-- full-text search (its list of readable patients) scanned the whole registry: at the
-- full synthetic scale (1,000,000 patients) 1.2 s for a kana search and 5.2 s for a
-- local id (bench/results/scale.md). These indexes serve the driving subquery
-- (`patients::reach_ids`):
--   * the patients an organization owns, with the name keys and the id in the index,
--     so that a name filter is tested inside it and no table row is read for a miss;
--   * the charts shared with an organization (active memberships other than owner),
--     a few hundred rows where its whole team list is tens of thousands;
--   * local ids without the organization (FHIR identifier searches by value alone).
CREATE INDEX patients_owner_keys ON patients (owner_org_id, kana_key, name_key, id);
CREATE INDEX care_team_shared_in ON care_team (org_id, patient_id) WHERE role <> 'owner' AND ended_at IS NULL;
CREATE INDEX patient_identifiers_local ON patient_identifiers (local_id);
