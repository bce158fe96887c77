CREATE TRIGGER instruments_no_update BEFORE UPDATE ON instruments BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER instruments_no_delete BEFORE DELETE ON instruments BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER survey_invitations_no_update BEFORE UPDATE ON survey_invitations BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER survey_invitations_no_delete BEFORE DELETE ON survey_invitations BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER survey_revocations_no_update BEFORE UPDATE ON survey_revocations BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER survey_revocations_no_delete BEFORE DELETE ON survey_revocations BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER survey_responses_no_update BEFORE UPDATE ON survey_responses BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
CREATE TRIGGER survey_responses_no_delete BEFORE DELETE ON survey_responses BEGIN SELECT RAISE(ABORT, 'survey records are append-only'); END;
