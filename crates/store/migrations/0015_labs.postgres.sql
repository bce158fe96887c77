CREATE TRIGGER lab_results_no_change BEFORE UPDATE OR DELETE ON lab_results
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER import_files_no_change BEFORE UPDATE OR DELETE ON import_files
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
