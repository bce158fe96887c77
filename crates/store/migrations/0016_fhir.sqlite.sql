CREATE TRIGGER patient_versions_no_update BEFORE UPDATE ON patient_versions BEGIN SELECT RAISE(ABORT, 'patient versions are append-only'); END;
CREATE TRIGGER patient_versions_no_delete BEFORE DELETE ON patient_versions BEGIN SELECT RAISE(ABORT, 'patient versions are append-only'); END;
CREATE TRIGGER fhir_exports_no_update BEFORE UPDATE ON fhir_exports BEGIN SELECT RAISE(ABORT, 'exports are append-only'); END;
