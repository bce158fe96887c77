-- Family records are append-only (PostgreSQL).
CREATE TRIGGER family_invitations_no_change BEFORE UPDATE OR DELETE ON family_invitations
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER family_invitation_revocations_no_change BEFORE UPDATE OR DELETE ON family_invitation_revocations
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER family_accounts_no_change BEFORE UPDATE OR DELETE ON family_accounts
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER family_account_ends_no_change BEFORE UPDATE OR DELETE ON family_account_ends
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER diary_entries_no_change BEFORE UPDATE OR DELETE ON diary_entries
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER diary_marks_no_change BEFORE UPDATE OR DELETE ON diary_marks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER diary_alert_acks_no_change BEFORE UPDATE OR DELETE ON diary_alert_acks
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER family_messages_no_change BEFORE UPDATE OR DELETE ON family_messages
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER visits_no_change BEFORE UPDATE OR DELETE ON visits
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER visit_cancellations_no_change BEFORE UPDATE OR DELETE ON visit_cancellations
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
CREATE TRIGGER family_shares_no_change BEFORE UPDATE OR DELETE ON family_shares
    FOR EACH ROW EXECUTE FUNCTION tsunagu_refuse_change();
