//! Rule 9, invitations: what inviting an email into a workspace does. The store loads the
//! rows and writes the outcome; this decides. (Whether an invitation still stands on its
//! issuer's authority is `authz::invitation_stands`.)

use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::model::UserStatus;

/// The longest invitation token the public look-up reads (issued tokens are 43 characters of
/// URL-safe base64).
pub const MAX_TOKEN_CHARS: usize = 128;

/// The token of `GET /invitations/lookup?token=`, or why it cannot be one (422 naming
/// `token`): missing or blank, longer than `MAX_TOKEN_CHARS`, or holding characters outside
/// URL-safe base64. A token of the right shape that matches no invitation is the look-up's 404.
pub fn lookup_token(raw: Option<&str>) -> DomainResult<&str> {
    let token = raw.map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(DomainError::invalid(
            "token",
            "send the token from the invitation link",
        ));
    }
    if token.chars().count() > MAX_TOKEN_CHARS {
        return Err(DomainError::invalid(
            "token",
            format!("must be at most {MAX_TOKEN_CHARS} characters"),
        ));
    }
    if !token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(DomainError::invalid(
            "token",
            "is not an invitation token (letters, digits, - and _ only)",
        ));
    }
    Ok(token)
}

/// The account an invited email already belongs to, as the store found it.
#[derive(Clone, Copy, Debug)]
pub struct ExistingUser {
    pub id: UserId,
    /// The account's status in the inviting organization: `None` when it is not a member
    /// (it belongs to other organizations only, or to none).
    pub membership: Option<UserStatus>,
    /// The account has signed up (it has a password).
    pub signed_up: bool,
    /// An owner or admin of the inviting organization.
    pub is_account_admin: bool,
    /// Already holds a direct membership of the workspace.
    pub is_member: bool,
}

/// What inviting an email does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteAction {
    /// An active member of the organization: the membership is added at once.
    AddMember(UserId),
    /// Anyone else (`None`: no account at all, one is created as `invited`): an invitation is
    /// sent, replacing any open one for the workspace.
    Invite(Option<UserId>),
}

/// What inviting an email into a workspace of an organization does, given the account the
/// email already belongs to (if any). An account that is not a member of the organization is
/// invited exactly like an email nobody has (rule 17: the answer tells nothing about accounts
/// elsewhere). Refused: the organization's owners and admins (members of every workspace
/// already), a disabled member, and an existing member of the workspace.
pub fn invite_action(existing: Option<ExistingUser>) -> DomainResult<InviteAction> {
    let Some(u) = existing else {
        return Ok(InviteAction::Invite(None));
    };
    let Some(status) = u.membership else {
        return Ok(InviteAction::Invite(Some(u.id)));
    };
    if u.is_account_admin {
        return Err(DomainError::conflict(
            "account_admin",
            "the Account Admin is a member of every workspace already",
        ));
    }
    if status == UserStatus::Disabled {
        return Err(DomainError::conflict(
            "user_disabled",
            "this user is disabled: enable them first",
        ));
    }
    if u.is_member {
        return Err(DomainError::conflict(
            "already_member",
            "this user is already a member of the workspace: change their role with add-user",
        ));
    }
    Ok(match status {
        UserStatus::Active if u.signed_up => InviteAction::AddMember(u.id),
        _ => InviteAction::Invite(Some(u.id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(membership: Option<UserStatus>) -> ExistingUser {
        ExistingUser {
            id: UserId::new(),
            membership,
            signed_up: true,
            is_account_admin: false,
            is_member: false,
        }
    }

    fn code(r: DomainResult<InviteAction>) -> &'static str {
        match r {
            Err(DomainError::Conflict { code, .. }) => code,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn inviting_adds_an_active_member_at_once_and_invites_anyone_else() {
        assert_eq!(invite_action(None).unwrap(), InviteAction::Invite(None));
        let active = user(Some(UserStatus::Active));
        assert_eq!(
            invite_action(Some(active)).unwrap(),
            InviteAction::AddMember(active.id)
        );
        let invited = user(Some(UserStatus::Invited));
        assert_eq!(
            invite_action(Some(invited)).unwrap(),
            InviteAction::Invite(Some(invited.id))
        );
        // An account of another organization is invited like a new email.
        let elsewhere = user(None);
        assert_eq!(
            invite_action(Some(elsewhere)).unwrap(),
            InviteAction::Invite(Some(elsewhere.id))
        );
    }

    #[test]
    fn inviting_refuses_the_admin_disabled_members_and_workspace_members() {
        let admin = ExistingUser {
            is_account_admin: true,
            ..user(Some(UserStatus::Active))
        };
        assert_eq!(code(invite_action(Some(admin))), "account_admin");
        let disabled = user(Some(UserStatus::Disabled));
        assert_eq!(code(invite_action(Some(disabled))), "user_disabled");
        let member = ExistingUser {
            is_member: true,
            ..user(Some(UserStatus::Invited))
        };
        assert_eq!(code(invite_action(Some(member))), "already_member");
    }

    #[test]
    fn a_lookup_token_is_url_safe_base64_of_bounded_length() {
        let issued = "AbC-_0123456789abcdefghijklmnopqrstuvwxyzAB";
        assert_eq!(lookup_token(Some(issued)).unwrap(), issued);
        assert_eq!(lookup_token(Some(" abc ")).unwrap(), "abc");
        let long = "a".repeat(MAX_TOKEN_CHARS + 1);
        for bad in [
            None,
            Some(""),
            Some("  "),
            Some("a b"),
            Some("a/b"),
            Some("é"),
            Some(long.as_str()),
        ] {
            match lookup_token(bad) {
                Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "token"),
                other => panic!("{bad:?}: expected 422, got {other:?}"),
            }
        }
    }
}
