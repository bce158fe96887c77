//! Letters between organizations (DOMAIN.md §5): the referral letter (診療情報提供書),
//! the visiting-nurse instruction (訪問看護指示書) and the reply (返書).
//!
//! Sending a letter opens the chart to its recipient (DOMAIN.md §4); the store does
//! that in the same transaction as the state change. Here live the shapes, the
//! required fields (checked when a letter is sent, not when a draft is saved) and the
//! states a letter may move through.

use crate::Invalid;
use crate::patient::{TeamRole, parse_iso_date};
use crate::validation::optional_text;
use serde::{Deserialize, Serialize};

/// Longest text any one field of a letter may hold: a letter is read by a busy
/// person, and a field this long is a paste gone wrong.
pub const FIELD_MAX: usize = 8000;

/// A visiting-nurse instruction covers at most six months (the medical fee rules).
pub const INSTRUCTION_MAX_DAYS: i64 = 183;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    /// 診療情報提供書
    Referral,
    /// 訪問看護指示書
    NursingInstruction,
    /// 返書: the answer to a referral, linked back to it.
    Reply,
}

impl LetterKind {
    pub const ALL: [LetterKind; 3] = [LetterKind::Referral, LetterKind::NursingInstruction, LetterKind::Reply];
    pub fn as_str(self) -> &'static str {
        match self {
            LetterKind::Referral => "referral",
            LetterKind::NursingInstruction => "nursing_instruction",
            LetterKind::Reply => "reply",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| Invalid::one("kind", "err-letter-kind"))
    }
    /// The role the recipient most often takes on the team for this kind of letter,
    /// offered first in the form.
    pub fn usual_recipient_role(self) -> TeamRole {
        match self {
            LetterKind::Referral => TeamRole::HomePhysician,
            LetterKind::NursingInstruction => TeamRole::VisitingNurse,
            LetterKind::Reply => TeamRole::HospitalAttending,
        }
    }
}

/// Where a letter is in its life. Drafts belong to the writing organization; from
/// `Sent` on the letter is part of the chart and its content never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterState {
    Draft,
    Sent,
    /// Someone at the recipient organization acknowledged it.
    Received,
    /// A reply letter was sent back.
    Replied,
    /// The recipient declined (e.g. cannot take the patient); the chart stays shared
    /// until the recipient leaves the team.
    Declined,
    /// A draft the writer threw away; kept, never shown as a letter.
    Discarded,
}

impl LetterState {
    pub const ALL: [LetterState; 6] = [
        LetterState::Draft,
        LetterState::Sent,
        LetterState::Received,
        LetterState::Replied,
        LetterState::Declined,
        LetterState::Discarded,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LetterState::Draft => "draft",
            LetterState::Sent => "sent",
            LetterState::Received => "received",
            LetterState::Replied => "replied",
            LetterState::Declined => "declined",
            LetterState::Discarded => "discarded",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// What can happen to a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterEvent {
    Edit,
    Send,
    Discard,
    Receive,
    Decline,
    Reply,
}

impl LetterEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LetterEvent::Edit => "edit",
            LetterEvent::Send => "send",
            LetterEvent::Discard => "discard",
            LetterEvent::Receive => "receive",
            LetterEvent::Decline => "decline",
            LetterEvent::Reply => "reply",
        }
    }
}

/// Which side of the letter the person's organization is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Writer,
    Recipient,
    /// Another team member: reads sent letters, acts on none.
    Other,
}

/// The state machine: the state after `event`, or `None` when it may not happen. Only
/// the writer edits, sends or discards its draft; only the recipient receives,
/// declines or replies. A reply may follow a decline (to explain) but not another reply.
pub fn next_state(state: LetterState, event: LetterEvent, side: Side) -> Option<LetterState> {
    use LetterEvent as E;
    use LetterState as S;
    match (side, state, event) {
        (Side::Writer, S::Draft, E::Edit) => Some(S::Draft),
        (Side::Writer, S::Draft, E::Send) => Some(S::Sent),
        (Side::Writer, S::Draft, E::Discard) => Some(S::Discarded),
        (Side::Recipient, S::Sent, E::Receive) => Some(S::Received),
        (Side::Recipient, S::Sent | S::Received, E::Decline) => Some(S::Declined),
        (Side::Recipient, S::Sent | S::Received | S::Declined, E::Reply) => Some(S::Replied),
        _ => None,
    }
}

/// 診療情報提供書: the fields of the national referral-letter structure (JP eReferral).
/// Free text per field, because that is how doctors write them; the FHIR export maps
/// each field to its coded section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Referral {
    /// 紹介目的 (required to send)
    pub purpose: String,
    /// 傷病名, one per line (required to send)
    pub diagnoses: String,
    /// 主訴
    pub chief_complaint: String,
    /// 現病歴 (required to send)
    pub present_illness: String,
    /// 既往歴
    pub past_history: String,
    /// アレルギー・不耐性反応
    pub allergies: String,
    /// 感染症情報
    pub infections: String,
    /// 家族歴
    pub family_history: String,
    /// 社会歴・生活習慣
    pub social_history: String,
    /// 投薬内容, one per line (pre-filled from the chart's medication list)
    pub medications: String,
    /// 検査結果 (chosen from the chart)
    pub lab_results: String,
    /// 臨床経過
    pub clinical_course: String,
    /// 診療方針
    pub care_policy: String,
    /// 医療機器
    pub devices: String,
    /// 事前指示 (advance directive)
    pub advance_directive: String,
    /// 備考
    pub remarks: String,
}

/// 訪問看護指示書: what a home physician tells the visiting-nurse station.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NursingInstruction {
    /// 指示期間 (ISO dates; required to send, at most six months)
    pub period_from: String,
    pub period_to: String,
    /// 主たる傷病名 (required to send)
    pub diagnoses: String,
    /// 病状・治療状態
    pub condition: String,
    /// 投与中の薬剤の用量・用法
    pub medications: String,
    /// 装着・使用医療機器等
    pub devices: String,
    /// 留意事項及び指示事項 (required to send)
    pub instructions: String,
    /// 緊急時の連絡先 (required to send)
    pub emergency_contact: String,
    /// 特記すべき留意事項
    pub remarks: String,
}

/// 返書: the recipient's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reply {
    /// 本文: thanks, findings, what was done (required to send)
    pub body: String,
    /// 傷病名
    pub diagnoses: String,
    /// 今後の方針
    pub care_policy: String,
    pub remarks: String,
}

/// The content of a letter, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LetterBody {
    Referral(Referral),
    NursingInstruction(NursingInstruction),
    Reply(Reply),
}

/// One field of a letter as it is shown, printed and exported: the field name (also
/// the form field and the catalogue label `letter-field-{name}`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterField<'a> {
    pub name: &'static str,
    pub text: &'a str,
}

impl LetterBody {
    pub fn empty(kind: LetterKind) -> Self {
        match kind {
            LetterKind::Referral => LetterBody::Referral(Referral::default()),
            LetterKind::NursingInstruction => LetterBody::NursingInstruction(NursingInstruction::default()),
            LetterKind::Reply => LetterBody::Reply(Reply::default()),
        }
    }

    pub fn kind(&self) -> LetterKind {
        match self {
            LetterBody::Referral(_) => LetterKind::Referral,
            LetterBody::NursingInstruction(_) => LetterKind::NursingInstruction,
            LetterBody::Reply(_) => LetterKind::Reply,
        }
    }

    /// Every field in the order of the printed form.
    pub fn fields<'a>(&'a self) -> Vec<LetterField<'a>> {
        let f = |name: &'static str, text: &'a String| LetterField { name, text: text.as_str() };
        match self {
            LetterBody::Referral(r) => vec![
                f("purpose", &r.purpose),
                f("diagnoses", &r.diagnoses),
                f("chief_complaint", &r.chief_complaint),
                f("present_illness", &r.present_illness),
                f("past_history", &r.past_history),
                f("allergies", &r.allergies),
                f("infections", &r.infections),
                f("family_history", &r.family_history),
                f("social_history", &r.social_history),
                f("medications", &r.medications),
                f("lab_results", &r.lab_results),
                f("clinical_course", &r.clinical_course),
                f("care_policy", &r.care_policy),
                f("devices", &r.devices),
                f("advance_directive", &r.advance_directive),
                f("remarks", &r.remarks),
            ],
            LetterBody::NursingInstruction(n) => vec![
                f("period_from", &n.period_from),
                f("period_to", &n.period_to),
                f("diagnoses", &n.diagnoses),
                f("condition", &n.condition),
                f("medications", &n.medications),
                f("devices", &n.devices),
                f("instructions", &n.instructions),
                f("emergency_contact", &n.emergency_contact),
                f("remarks", &n.remarks),
            ],
            LetterBody::Reply(r) => vec![
                f("body", &r.body),
                f("diagnoses", &r.diagnoses),
                f("care_policy", &r.care_policy),
                f("remarks", &r.remarks),
            ],
        }
    }

    /// Set a field by its name (form and JSON input); unknown names are refused.
    pub fn set(&mut self, name: &str, value: String) -> Result<(), Invalid> {
        let slot: Option<&mut String> = match self {
            LetterBody::Referral(r) => match name {
                "purpose" => Some(&mut r.purpose),
                "diagnoses" => Some(&mut r.diagnoses),
                "chief_complaint" => Some(&mut r.chief_complaint),
                "present_illness" => Some(&mut r.present_illness),
                "past_history" => Some(&mut r.past_history),
                "allergies" => Some(&mut r.allergies),
                "infections" => Some(&mut r.infections),
                "family_history" => Some(&mut r.family_history),
                "social_history" => Some(&mut r.social_history),
                "medications" => Some(&mut r.medications),
                "lab_results" => Some(&mut r.lab_results),
                "clinical_course" => Some(&mut r.clinical_course),
                "care_policy" => Some(&mut r.care_policy),
                "devices" => Some(&mut r.devices),
                "advance_directive" => Some(&mut r.advance_directive),
                "remarks" => Some(&mut r.remarks),
                _ => None,
            },
            LetterBody::NursingInstruction(n) => match name {
                "period_from" => Some(&mut n.period_from),
                "period_to" => Some(&mut n.period_to),
                "diagnoses" => Some(&mut n.diagnoses),
                "condition" => Some(&mut n.condition),
                "medications" => Some(&mut n.medications),
                "devices" => Some(&mut n.devices),
                "instructions" => Some(&mut n.instructions),
                "emergency_contact" => Some(&mut n.emergency_contact),
                "remarks" => Some(&mut n.remarks),
                _ => None,
            },
            LetterBody::Reply(r) => match name {
                "body" => Some(&mut r.body),
                "diagnoses" => Some(&mut r.diagnoses),
                "care_policy" => Some(&mut r.care_policy),
                "remarks" => Some(&mut r.remarks),
                _ => None,
            },
        };
        match slot {
            Some(s) => {
                *s = value;
                Ok(())
            }
            None => Err(Invalid::one("field", "err-letter-field-unknown")),
        }
    }

    /// What a draft must satisfy to be saved: every field trimmed and within length,
    /// dates (when given) real dates. Missing required fields are allowed in a draft.
    pub fn check_draft(self) -> Result<Self, Invalid> {
        let mut inv = Invalid::default();
        let mut out = LetterBody::empty(self.kind());
        for f in self.fields() {
            let v = inv.merge(optional_text(f.name, f.text, FIELD_MAX)).flatten().unwrap_or_default();
            // `set` only fails on unknown names; these come from `fields()`.
            let _ = out.set(f.name, v);
        }
        if let LetterBody::NursingInstruction(n) = &out {
            for (name, v) in [("period_from", &n.period_from), ("period_to", &n.period_to)] {
                if !v.is_empty() && parse_iso_date(v).is_none() {
                    inv.push(name, "err-date");
                }
            }
        }
        inv.into_result()?;
        Ok(out)
    }

    /// What a letter must carry to be sent (on top of [`LetterBody::check_draft`]). Each
    /// missing field has its own message naming the field, so the writer knows what to
    /// fill in without reading the form again.
    pub fn check_send(self) -> Result<Self, Invalid> {
        let body = self.check_draft()?;
        let mut inv = Invalid::default();
        let mut need = |cond: bool, field: &'static str, key: &'static str| {
            if cond {
                inv.push(field, key);
            }
        };
        match &body {
            LetterBody::Referral(r) => {
                need(r.purpose.is_empty(), "purpose", "err-letter-purpose-required");
                need(r.diagnoses.is_empty(), "diagnoses", "err-letter-diagnoses-required");
                need(r.present_illness.is_empty(), "present_illness", "err-letter-present-illness-required");
            }
            LetterBody::NursingInstruction(n) => {
                need(n.period_from.is_empty(), "period_from", "err-letter-period-required");
                need(n.period_to.is_empty(), "period_to", "err-letter-period-required");
                need(n.diagnoses.is_empty(), "diagnoses", "err-letter-diagnoses-required");
                need(n.instructions.is_empty(), "instructions", "err-letter-instructions-required");
                need(n.emergency_contact.is_empty(), "emergency_contact", "err-letter-emergency-contact-required");
                if let (Some(from), Some(to)) = (parse_iso_date(&n.period_from), parse_iso_date(&n.period_to)) {
                    if to < from {
                        inv.push("period_to", "err-letter-period-order");
                    } else if (to - from).whole_days() > INSTRUCTION_MAX_DAYS {
                        inv.push("period_to", "err-letter-period-too-long");
                    }
                }
            }
            LetterBody::Reply(r) => {
                need(r.body.is_empty(), "body", "err-letter-reply-body-required");
            }
        }
        inv.into_result()?;
        Ok(body)
    }

    /// The words of the letter, for full-text search.
    pub fn text(&self) -> String {
        self.fields().iter().filter(|f| !f.text.is_empty()).map(|f| f.text).collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn referral() -> LetterBody {
        LetterBody::Referral(Referral {
            purpose: " 在宅緩和ケアのお願い ".into(),
            diagnoses: "膵癌 cT4N1M1 肝転移".into(),
            present_illness: "2026年8月に黄疸で発症。".into(),
            ..Referral::default()
        })
    }

    #[test]
    fn a_complete_referral_can_be_sent_and_is_trimmed() {
        let b = referral().check_send().unwrap();
        let LetterBody::Referral(r) = b else { unreachable!() };
        assert_eq!(r.purpose, "在宅緩和ケアのお願い");
    }

    #[test]
    fn each_missing_required_field_is_named() {
        for (field, key) in [
            ("purpose", "err-letter-purpose-required"),
            ("diagnoses", "err-letter-diagnoses-required"),
            ("present_illness", "err-letter-present-illness-required"),
        ] {
            let mut b = referral();
            b.set(field, "   ".into()).unwrap();
            let e = b.clone().check_send().unwrap_err();
            assert_eq!(e.0.len(), 1, "{field}");
            assert_eq!(e.0[0].field, field);
            assert_eq!(e.0[0].key, key);
            // A draft with the same gap is fine.
            assert!(b.check_draft().is_ok());
        }
    }

    #[test]
    fn nursing_instruction_period_is_checked() {
        let mut b = LetterBody::empty(LetterKind::NursingInstruction);
        for (k, v) in [
            ("period_from", "2026-12-01"),
            ("period_to", "2026-11-01"),
            ("diagnoses", "膵癌"),
            ("instructions", "疼痛評価とレスキュー使用の記録"),
            ("emergency_contact", "みどり内科 0235-22-1234 (24時間)"),
        ] {
            b.set(k, v.into()).unwrap();
        }
        assert_eq!(b.clone().check_send().unwrap_err().0[0].key, "err-letter-period-order");
        b.set("period_to", "2027-12-01".into()).unwrap();
        assert_eq!(b.clone().check_send().unwrap_err().0[0].key, "err-letter-period-too-long");
        b.set("period_to", "2027-05-31".into()).unwrap();
        assert!(b.clone().check_send().is_ok());
        b.set("period_from", "2026-13-01".into()).unwrap();
        assert_eq!(b.check_draft().unwrap_err().0[0].key, "err-date");
    }

    #[test]
    fn unknown_fields_and_long_text_are_refused() {
        let mut b = referral();
        assert!(b.set("password", "x".into()).is_err());
        b.set("remarks", "あ".repeat(FIELD_MAX + 1)).unwrap();
        assert_eq!(b.check_draft().unwrap_err().0[0].key, "err-too-long");
    }

    #[test]
    fn body_round_trips_through_json() {
        let b = referral();
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.contains("\"kind\":\"referral\""));
        assert_eq!(serde_json::from_str::<LetterBody>(&json).unwrap(), b);
    }

    #[test]
    fn the_state_machine_lets_each_side_do_only_its_part() {
        use LetterEvent as E;
        use LetterState as S;
        assert_eq!(next_state(S::Draft, E::Send, Side::Writer), Some(S::Sent));
        assert_eq!(next_state(S::Draft, E::Send, Side::Recipient), None);
        assert_eq!(next_state(S::Sent, E::Edit, Side::Writer), None, "a sent letter never changes");
        assert_eq!(next_state(S::Sent, E::Receive, Side::Recipient), Some(S::Received));
        assert_eq!(next_state(S::Sent, E::Receive, Side::Writer), None);
        assert_eq!(next_state(S::Received, E::Reply, Side::Recipient), Some(S::Replied));
        assert_eq!(next_state(S::Received, E::Decline, Side::Other), None);
        assert_eq!(next_state(S::Replied, E::Reply, Side::Recipient), None);
        assert_eq!(next_state(S::Discarded, E::Send, Side::Writer), None);
        for s in LetterState::ALL {
            assert_eq!(LetterState::parse(s.as_str()), Some(s));
        }
    }
}
