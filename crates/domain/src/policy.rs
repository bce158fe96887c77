//! The access policy: one pure function decides every access to a chart (DOMAIN.md §4).
//! Handlers never see patient data without a grant that came out of [`decide`].

use crate::ids::{OrgId, UserId};
use crate::patient::ConsentStatus;
use serde::Serialize;
use std::collections::HashSet;

/// Who is asking: a signed-in professional acting for one of their organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    /// The organization the person acts for in this session or token.
    pub org: OrgId,
    /// True when the person administers `org` (manages its staff and profile).
    pub org_admin: bool,
    /// The network operator approves organizations; it does not read charts by role.
    pub operator: bool,
}

/// What is known about the chart being reached, loaded by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFacts {
    /// The registering organization, which owns the chart.
    pub owner: OrgId,
    /// Organizations currently on the care team (owner included or not; it is implied).
    pub team: HashSet<OrgId>,
    pub consent: ConsentStatus,
    /// People (not organizations) holding unexpired emergency access to this chart
    /// (break-the-glass): they may read it, nothing more, until it expires.
    pub emergency: HashSet<UserId>,
}

/// What the principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartAction {
    /// Read anything on the chart (demographics, team, entries).
    Read,
    /// Write clinical content (entries, contacts, local ids).
    Write,
    /// Add or remove team members, record consent: the owner's business.
    Govern,
    /// Leave the team (a member removing itself).
    Leave,
    /// See who accessed the chart.
    ReadAccessLog,
    /// Send a letter (referral, nursing instruction, reply) from the chart. Sending adds
    /// the recipient organization to the care team (DOMAIN.md §4: a referral opens the
    /// chart), so it is its own action rather than a plain write.
    Refer,
}

impl ChartAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChartAction::Read => "read",
            ChartAction::Write => "write",
            ChartAction::Govern => "govern",
            ChartAction::Leave => "leave",
            ChartAction::ReadAccessLog => "read_access_log",
            ChartAction::Refer => "refer",
        }
    }
}

/// Why access was granted or refused; recorded in the audit chain, never shown to an
/// outsider (who sees only "not found").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Owner,
    TeamMember,
    NotOnTeam,
    ConsentWithdrawn,
    ConsentNotRecorded,
    OwnerOnly,
    OwnerCannotLeave,
    /// Read under break-the-glass emergency access: allowed, and flagged as such.
    Emergency,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Owner => "owner",
            Reason::TeamMember => "team_member",
            Reason::NotOnTeam => "not_on_team",
            Reason::ConsentWithdrawn => "consent_withdrawn",
            Reason::ConsentNotRecorded => "consent_not_recorded",
            Reason::OwnerOnly => "owner_only",
            Reason::OwnerCannotLeave => "owner_cannot_leave",
            Reason::Emergency => "emergency",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow(Reason),
    Deny(Reason),
}

impl Decision {
    pub fn allowed(self) -> bool {
        matches!(self, Decision::Allow(_))
    }
    pub fn reason(self) -> Reason {
        match self {
            Decision::Allow(r) | Decision::Deny(r) => r,
        }
    }
}

/// The rule, in order:
/// 1. The owning organization may do everything but leave its own chart.
/// 2. Any other organization must be on the team, and the patient's consent to
///    regional sharing must be recorded and not withdrawn; withdrawal stops all sharing
///    except for the owner, deleting nothing.
/// 3. A team member reads, writes, sees the access log, refers (which brings the
///    recipient onto the team) and may leave; removing members and recording consent
///    stay with the owner.
/// 4. Nobody else, operator included, reaches the chart, except:
/// 5. A person holding unexpired emergency access (break-the-glass, with a stated
///    reason) may read it, whatever the team and consent say: in an emergency the
///    patient's life comes first (the APPI's exception for protecting life and body).
///    The access is the person's, not their organization's, and it is flagged
///    (`Reason::Emergency`) in every audit record it produces.
pub fn decide(who: &Principal, action: ChartAction, chart: &ChartFacts) -> Decision {
    match decide_by_team(who, action, chart) {
        Decision::Deny(_) if action == ChartAction::Read && chart.emergency.contains(&who.user) => {
            Decision::Allow(Reason::Emergency)
        }
        d => d,
    }
}

fn decide_by_team(who: &Principal, action: ChartAction, chart: &ChartFacts) -> Decision {
    if who.org == chart.owner {
        return match action {
            ChartAction::Leave => Decision::Deny(Reason::OwnerCannotLeave),
            _ => Decision::Allow(Reason::Owner),
        };
    }
    if !chart.team.contains(&who.org) {
        return Decision::Deny(Reason::NotOnTeam);
    }
    match chart.consent {
        ConsentStatus::Withdrawn => return Decision::Deny(Reason::ConsentWithdrawn),
        ConsentStatus::NotRecorded => return Decision::Deny(Reason::ConsentNotRecorded),
        ConsentStatus::Given => {}
    }
    match action {
        ChartAction::Read
        | ChartAction::Write
        | ChartAction::ReadAccessLog
        | ChartAction::Leave
        | ChartAction::Refer => Decision::Allow(Reason::TeamMember),
        ChartAction::Govern => Decision::Deny(Reason::OwnerOnly),
    }
}

/// Which organizations a person may administer: their own, when they are its admin.
pub fn may_administer_org(who: &Principal, org: OrgId) -> bool {
    who.org_admin && who.org == org
}

/// Who may correct an entry or mark it entered in error: the organization that wrote
/// it (its staff carry on when the author is away; nobody rewrites another
/// organization's record). The caller must also hold a Write grant on the chart.
pub fn may_amend(who: &Principal, author_org: OrgId) -> bool {
    who.org == author_org
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn org(n: u128) -> OrgId {
        OrgId(Uuid::from_u128(n))
    }
    fn who(n: u128) -> Principal {
        Principal { user: UserId(Uuid::from_u128(1000 + n)), org: org(n), org_admin: false, operator: false }
    }
    fn chart(owner: u128, team: &[u128], consent: ConsentStatus) -> ChartFacts {
        ChartFacts {
            owner: org(owner),
            team: team.iter().map(|n| org(*n)).collect(),
            consent,
            emergency: HashSet::new(),
        }
    }

    #[test]
    fn owner_does_everything_but_leave() {
        let c = chart(1, &[2], ConsentStatus::NotRecorded);
        for a in
            [ChartAction::Read, ChartAction::Write, ChartAction::Govern, ChartAction::ReadAccessLog, ChartAction::Refer]
        {
            assert_eq!(decide(&who(1), a, &c), Decision::Allow(Reason::Owner));
        }
        assert_eq!(decide(&who(1), ChartAction::Leave, &c), Decision::Deny(Reason::OwnerCannotLeave));
    }

    #[test]
    fn team_member_needs_consent() {
        assert_eq!(
            decide(&who(2), ChartAction::Read, &chart(1, &[2], ConsentStatus::Given)),
            Decision::Allow(Reason::TeamMember)
        );
        assert_eq!(
            decide(&who(2), ChartAction::Read, &chart(1, &[2], ConsentStatus::Withdrawn)),
            Decision::Deny(Reason::ConsentWithdrawn)
        );
        assert_eq!(
            decide(&who(2), ChartAction::Read, &chart(1, &[2], ConsentStatus::NotRecorded)),
            Decision::Deny(Reason::ConsentNotRecorded)
        );
        assert_eq!(
            decide(&who(2), ChartAction::Govern, &chart(1, &[2], ConsentStatus::Given)),
            Decision::Deny(Reason::OwnerOnly)
        );
    }

    #[test]
    fn outsiders_and_operators_see_nothing() {
        let c = chart(1, &[2], ConsentStatus::Given);
        let mut op = who(3);
        op.operator = true;
        op.org_admin = true;
        for a in [
            ChartAction::Read,
            ChartAction::Write,
            ChartAction::Govern,
            ChartAction::ReadAccessLog,
            ChartAction::Leave,
            ChartAction::Refer,
        ] {
            assert_eq!(decide(&who(3), a, &c), Decision::Deny(Reason::NotOnTeam));
            assert_eq!(decide(&op, a, &c), Decision::Deny(Reason::NotOnTeam));
        }
    }

    fn action() -> impl Strategy<Value = ChartAction> {
        prop_oneof![
            Just(ChartAction::Read),
            Just(ChartAction::Write),
            Just(ChartAction::Govern),
            Just(ChartAction::Leave),
            Just(ChartAction::ReadAccessLog),
            Just(ChartAction::Refer)
        ]
    }
    fn consent() -> impl Strategy<Value = ConsentStatus> {
        prop_oneof![Just(ConsentStatus::Given), Just(ConsentStatus::Withdrawn), Just(ConsentStatus::NotRecorded)]
    }

    proptest! {
        /// Whatever the chart, an organization that is neither owner nor member is denied.
        #[test]
        fn non_members_are_always_denied(me in 0u128..6, owner in 0u128..6, team in proptest::collection::vec(0u128..6, 0..4), a in action(), c in consent()) {
            prop_assume!(me != owner && !team.contains(&me));
            prop_assert!(!decide(&who(me), a, &chart(owner, &team, c)).allowed());
        }

        /// Withdrawn consent leaves exactly the owner.
        #[test]
        fn withdrawal_leaves_only_the_owner(me in 0u128..6, owner in 0u128..6, team in proptest::collection::vec(0u128..6, 0..4), a in action()) {
            let d = decide(&who(me), a, &chart(owner, &team, ConsentStatus::Withdrawn));
            prop_assert_eq!(d.allowed(), me == owner && a != ChartAction::Leave);
        }

        /// Emergency access opens reading to that one person, and nothing else to anyone.
        #[test]
        fn emergency_access_is_reading_for_that_person_only(me in 0u128..6, owner in 0u128..6, team in proptest::collection::vec(0u128..6, 0..4), a in action(), c in consent()) {
            prop_assume!(me != owner && !team.contains(&me));
            let mut ch = chart(owner, &team, c);
            ch.emergency.insert(who(me).user);
            prop_assert_eq!(decide(&who(me), a, &ch).allowed(), a == ChartAction::Read);
            // A colleague of the same organization is not covered.
            let colleague = Principal { user: UserId(Uuid::from_u128(5000 + me)), ..who(me) };
            prop_assert!(!decide(&colleague, a, &ch).allowed());
        }

        /// Referring is exactly as open as writing: whoever may write on the chart may
        /// send a letter from it, and nobody else.
        #[test]
        fn refer_follows_write(me in 0u128..6, owner in 0u128..6, team in proptest::collection::vec(0u128..6, 0..4), c in consent()) {
            let ch = chart(owner, &team, c);
            prop_assert_eq!(decide(&who(me), ChartAction::Refer, &ch).allowed(), decide(&who(me), ChartAction::Write, &ch).allowed());
        }

        /// Reading is never allowed where writing is allowed and reading is not.
        #[test]
        fn write_implies_read(me in 0u128..6, owner in 0u128..6, team in proptest::collection::vec(0u128..6, 0..4), c in consent()) {
            let ch = chart(owner, &team, c);
            if decide(&who(me), ChartAction::Write, &ch).allowed() {
                prop_assert!(decide(&who(me), ChartAction::Read, &ch).allowed());
            }
        }
    }
}
