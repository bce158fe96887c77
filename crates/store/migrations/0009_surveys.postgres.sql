CREATE TRIGGER instruments_no_change BEFORE UPDATE OR DELETE ON instruments
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER survey_invitations_no_change BEFORE UPDATE OR DELETE ON survey_invitations
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER survey_revocations_no_change BEFORE UPDATE OR DELETE ON survey_revocations
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER survey_responses_no_change BEFORE UPDATE OR DELETE ON survey_responses
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
