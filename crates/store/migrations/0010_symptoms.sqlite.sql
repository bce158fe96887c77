CREATE TRIGGER symptom_assessments_no_update BEFORE UPDATE ON symptom_assessments BEGIN SELECT RAISE(ABORT, 'symptom assessments are append-only'); END;
CREATE TRIGGER symptom_assessments_no_delete BEFORE DELETE ON symptom_assessments BEGIN SELECT RAISE(ABORT, 'symptom assessments are append-only'); END;
