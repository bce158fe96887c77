CREATE TRIGGER discharge_candidates_no_change BEFORE UPDATE OR DELETE ON discharge_candidates
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER candidate_versions_no_change BEFORE UPDATE OR DELETE ON candidate_versions
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER transition_cases_no_change BEFORE UPDATE OR DELETE ON transition_cases
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER transition_events_no_change BEFORE UPDATE OR DELETE ON transition_events
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER transition_tasks_no_change BEFORE UPDATE OR DELETE ON transition_tasks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER task_events_no_change BEFORE UPDATE OR DELETE ON task_events
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER conferences_no_change BEFORE UPDATE OR DELETE ON conferences
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER conference_sheets_no_change BEFORE UPDATE OR DELETE ON conference_sheets
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
