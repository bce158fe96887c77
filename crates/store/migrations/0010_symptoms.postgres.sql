CREATE TRIGGER symptom_assessments_no_change BEFORE UPDATE OR DELETE ON symptom_assessments
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
