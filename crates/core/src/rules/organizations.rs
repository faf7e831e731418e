//! Rules 17–19: organizations, their members' roles and the last owner, and their settings.

use crate::error::{DomainError, DomainResult};
use crate::model::{OrgRole, UserStatus};

/// What an owner or admin asks of an organization member (`PATCH`/`DELETE
/// /organization/members/{id}`, `PATCH`/`DELETE /users/{id}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    Role(OrgRole),
    Status(UserStatus),
    Remove,
    /// Ending every session of the account (it stays active).
    SignOut,
}

/// Who may change whom, and the last owner (rule 18 and §7's table): admins manage members and
/// admins, only an owner manages owners (or makes someone one); a status is `active` or
/// `disabled`, never set on an invited member; and an organization always keeps one active
/// owner: the last one cannot be demoted, disabled or removed (409). `active_owners` counts
/// the organization's active owners, the target included, read in the changing transaction.
pub fn check_member_change(
    actor: OrgRole,
    target: OrgRole,
    target_status: UserStatus,
    change: MemberChange,
    active_owners: i64,
) -> DomainResult<()> {
    if !actor.is_admin() {
        return Err(DomainError::forbidden(
            "only an owner or admin of the organization may do this",
        ));
    }
    let touches_owner = target == OrgRole::Owner || change == MemberChange::Role(OrgRole::Owner);
    if touches_owner && actor != OrgRole::Owner {
        return Err(DomainError::forbidden(
            "only an owner manages the organization's owners",
        ));
    }
    if let MemberChange::Status(to) = change {
        if !UserStatus::SETTABLE.contains(&to) {
            return Err(DomainError::invalid(
                "status",
                "must be \"active\" or \"disabled\"",
            ));
        }
        if target_status == UserStatus::Invited {
            return Err(DomainError::conflict(
                "user_invited",
                "an invited user becomes active by signing up",
            ));
        }
    }
    let loses_owner = target == OrgRole::Owner
        && target_status == UserStatus::Active
        && match change {
            MemberChange::Role(r) => r != OrgRole::Owner,
            MemberChange::Status(s) => s != UserStatus::Active,
            MemberChange::Remove => true,
            MemberChange::SignOut => false,
        };
    if loses_owner && active_owners <= 1 {
        return Err(DomainError::conflict(
            "last_owner",
            "an organization keeps at least one active owner: make another member owner first",
        ));
    }
    Ok(())
}

/// An account's name is the person's own: an organization's admin renames only a member who
/// has signed up and belongs to no other organization (`elsewhere`: the account's memberships
/// of other organizations, invited ones included); anyone else changes it themselves.
pub fn check_name_change(target_status: UserStatus, elsewhere: i64) -> DomainResult<()> {
    if target_status == UserStatus::Invited {
        return Err(DomainError::conflict(
            "user_invited",
            "an invited user chooses their name by signing up",
        ));
    }
    if elsewhere > 0 {
        return Err(DomainError::conflict(
            "shared_account",
            "this account belongs to other organizations too: only its owner renames it",
        ));
    }
    Ok(())
}

/// Rule 19 and §7: owners and admins change an organization's settings, but only an owner its
/// SSO and MFA policy (`touches_policy`: the change sets `ssoRequired` or `mfaRequired`).
pub fn check_settings_change(actor: OrgRole, touches_policy: bool) -> DomainResult<()> {
    if !actor.is_admin() {
        return Err(DomainError::forbidden(
            "only an owner or admin of the organization may do this",
        ));
    }
    if touches_policy && actor != OrgRole::Owner {
        return Err(DomainError::forbidden(
            "only an owner sets the organization's SSO and MFA policy",
        ));
    }
    Ok(())
}

/// What the sign-in of an account amounts to across its organizations (rules 10 and 17): an
/// account that has not signed up is `Invited`; one that is disabled in every organization it
/// belongs to (at least one) is `Disabled`; any other is `Active` — a user in no organization
/// signs in and sees that they have none.
pub fn account_status(signed_up: bool, memberships: &[UserStatus]) -> UserStatus {
    if !signed_up {
        UserStatus::Invited
    } else if memberships.contains(&UserStatus::Disabled)
        && !memberships.contains(&UserStatus::Active)
    {
        UserStatus::Disabled
    } else {
        UserStatus::Active
    }
}

/// An organization's name: what names elsewhere allow.
pub fn organization_name(raw: &str) -> DomainResult<String> {
    super::display_name("name", raw)
}

/// The allowed email domains of rule 19: lowercase host names without `@`, at most 100.
pub fn email_domains(raw: &[String]) -> DomainResult<Vec<String>> {
    if raw.len() > 100 {
        return Err(DomainError::invalid(
            "allowedEmailDomains",
            "at most 100 domains",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for d in raw {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.contains('.')
            && d.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(DomainError::invalid(
                "allowedEmailDomains",
                format!(
                    "{:?} is not a domain name",
                    d.chars().take(80).collect::<String>()
                ),
            ));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Rule 19: an invitation goes only to an email of an allowed domain (any, when none is set).
pub fn check_invitation_domain(allowed: &[String], email: &str) -> DomainResult<()> {
    if allowed.is_empty() {
        return Ok(());
    }
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if allowed.contains(&domain) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "email",
            format!(
                "this organization invites only addresses at {}",
                allowed.join(", ")
            ),
        ))
    }
}

/// Rule 19: the minimum password length is at least 8 (the installation's floor) and at most
/// 128.
pub fn min_password_length(n: i64) -> DomainResult<u32> {
    if (crate::password::MIN_LENGTH as i64..=128).contains(&n) {
        Ok(n as u32)
    } else {
        Err(DomainError::invalid(
            "minPasswordLength",
            format!("must be between {} and 128", crate::password::MIN_LENGTH),
        ))
    }
}

/// Rule 19: a session lifetime between 5 minutes and 90 days.
pub fn session_lifetime_minutes(n: i64) -> DomainResult<u32> {
    if (5..=129_600).contains(&n) {
        Ok(n as u32)
    } else {
        Err(DomainError::invalid(
            "sessionLifetimeMinutes",
            "must be between 5 and 129600 (90 days)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::conflict_code;
    use OrgRole::*;

    #[test]
    fn the_last_active_owner_stays() {
        let active = UserStatus::Active;
        for change in [
            MemberChange::Role(Admin),
            MemberChange::Status(UserStatus::Disabled),
            MemberChange::Remove,
        ] {
            assert_eq!(
                conflict_code(check_member_change(Owner, Owner, active, change, 1)),
                "last_owner"
            );
            assert!(check_member_change(Owner, Owner, active, change, 2).is_ok());
        }
        // A disabled owner is not the one that keeps the organization.
        assert!(
            check_member_change(Owner, Owner, UserStatus::Disabled, MemberChange::Remove, 1)
                .is_ok()
        );
    }

    #[test]
    fn only_owners_manage_owners() {
        let active = UserStatus::Active;
        assert!(check_member_change(Admin, Owner, active, MemberChange::Remove, 3).is_err());
        assert!(check_member_change(Admin, Member, active, MemberChange::Role(Owner), 1).is_err());
        assert!(check_member_change(Admin, Member, active, MemberChange::Role(Admin), 1).is_ok());
        assert!(check_member_change(Owner, Member, active, MemberChange::Role(Owner), 1).is_ok());
        assert!(check_member_change(Member, Member, active, MemberChange::Remove, 1).is_err());
        // Signing the last owner out everywhere leaves them owner: only an owner may, though.
        assert!(check_member_change(Owner, Owner, active, MemberChange::SignOut, 1).is_ok());
        assert!(check_member_change(Admin, Owner, active, MemberChange::SignOut, 2).is_err());
        assert!(check_member_change(Admin, Member, active, MemberChange::SignOut, 1).is_ok());
    }

    #[test]
    fn account_status_across_organizations() {
        use UserStatus::*;
        assert_eq!(account_status(false, &[Active]), Invited);
        assert_eq!(account_status(true, &[Disabled]), Disabled);
        assert_eq!(account_status(true, &[Disabled, Active]), Active);
        assert_eq!(account_status(true, &[]), Active);
    }

    #[test]
    fn domains() {
        let d = email_domains(&["Example.COM".into(), "@b.org".into()]).unwrap();
        assert_eq!(d, vec!["example.com", "b.org"]);
        assert!(email_domains(&["not a domain".into()]).is_err());
        assert!(check_invitation_domain(&d, "x@EXAMPLE.com").is_ok());
        assert!(check_invitation_domain(&d, "x@evil.com").is_err());
        assert!(check_invitation_domain(&[], "x@evil.com").is_ok());
        assert!(min_password_length(7).is_err());
        assert_eq!(min_password_length(12).unwrap(), 12);
    }
}
