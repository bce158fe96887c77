CREATE TRIGGER patient_versions_no_change BEFORE UPDATE OR DELETE ON patient_versions
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER fhir_exports_no_update BEFORE UPDATE ON fhir_exports
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
