-- As 0018, for the letters (ServiceRequest, Composition) and the hospital-to-home
-- checklist tasks (Task) the FHIR API reads by their own id.
CREATE INDEX letters_by_id ON letters (id);
CREATE INDEX transition_tasks_by_id ON transition_tasks (id);
