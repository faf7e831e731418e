//! Single sign-on (SPEC §8): what a provider's settings accept, where a sign-in may land, which
//! account an external identity signs in as (never by email alone), whether it may join the
//! organization, which workspace roles its groups map to, and `ssoRequired`.

use crate::error::{DomainError, DomainResult};
use crate::ids::{RoleId, UserId, WorkspaceId};
use crate::model::{OrgRole, UserStatus};

/// How long a sign-in flow (state, nonce, PKCE verifier) waits for the provider's answer.
pub const SSO_FLOW_SECONDS: i64 = 600;

/// Where a sign-in lands: `next` when it is a path of this site, else `/`. Never another
/// origin (`//host`, `/\host`, `https://…`), so the callback cannot be an open redirect.
pub fn local_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The pattern of an issuer URL (the OpenAPI document says it; `sso_issuer` checks it).
pub const ISSUER_PATTERN: &str =
    "^https?://[^/?# \\u0000-\\u001f\\u007f-\\u009f]+[^?# \\u0000-\\u001f\\u007f-\\u009f]*$";
/// Longest issuer URL, client id or secret.
pub const MAX_SSO_TEXT_CHARS: usize = 2048;
/// The pattern of a client id, secret, group or claim name: no control character.
pub const SSO_TEXT_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$";
/// The pattern of a scope: printable ASCII but space, `"` and `\\`.
pub const SCOPE_PATTERN: &str = "^[!#-\\[\\]-~]{1,100}$";
/// Most scopes a provider asks for besides `openid`.
pub const MAX_SCOPES: usize = 19;
/// Longest group name of a mapping.
pub const MAX_GROUP_CHARS: usize = 256;

fn bad_char(c: char) -> bool {
    c.is_control()
}

/// An issuer URL: `https://…` (or `http://` for a provider on this machine or in a test), with
/// a host, no query, fragment, space or control character (`ISSUER_PATTERN`). Kept as sent:
/// the ID token's `iss` must match it exactly.
pub fn sso_issuer(s: &str) -> DomainResult<String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or_default();
        !host.is_empty()
            && !r
                .chars()
                .any(|c| c == '?' || c == '#' || c == ' ' || bad_char(c))
    }) && s.chars().count() <= MAX_SSO_TEXT_CHARS;
    if ok {
        Ok(s.to_string())
    } else {
        Err(DomainError::invalid(
            "issuer",
            "must be the provider's issuer URL, such as https://login.example.com (no query or fragment)",
        ))
    }
}

/// A client id, secret or claim name: 1 to `max` characters, none of them a control character
/// (`SSO_TEXT_PATTERN`).
pub fn sso_text(field: &'static str, s: &str, max: usize) -> DomainResult<String> {
    if s.is_empty() || s.chars().count() > max || s.chars().any(bad_char) {
        return Err(DomainError::invalid(
            field,
            format!("must be 1 to {max} characters, none of them a control character"),
        ));
    }
    Ok(s.to_string())
}

/// A client id or secret (`sso_text` of at most `MAX_SSO_TEXT_CHARS`).
pub fn sso_client_id(field: &'static str, s: &str) -> DomainResult<String> {
    sso_text(field, s, MAX_SSO_TEXT_CHARS)
}

/// The scopes asked for: `openid` always first (it is added when missing), then the rest,
/// without duplicates; `openid email profile` when none are given. At most `MAX_SCOPES`, each
/// `SCOPE_PATTERN`.
pub fn sso_scopes(raw: Option<&[String]>) -> DomainResult<Vec<String>> {
    let Some(raw) = raw else {
        return Ok(vec!["openid".into(), "email".into(), "profile".into()]);
    };
    if raw.len() > MAX_SCOPES {
        return Err(DomainError::invalid(
            "scopes",
            format!("at most {MAX_SCOPES} scopes"),
        ));
    }
    let mut out = vec!["openid".to_string()];
    for s in raw {
        let ok = (1..=100).contains(&s.len())
            && s.chars()
                .all(|c| ('!'..='~').contains(&c) && c != '"' && c != '\\');
        if !ok {
            return Err(DomainError::invalid(
                "scopes",
                "each scope is 1 to 100 printable ASCII characters without spaces, quotes or backslashes",
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Whether `email`'s domain is one of `allowed` (any, when `allowed` is empty).
pub fn email_domain_allowed(allowed: &[String], email: &str) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .unwrap_or_default();
    allowed.contains(&domain)
}

/// What is known, at the callback, of the external identity and the accounts it could be.
#[derive(Clone, Debug)]
pub struct SsoFacts {
    /// The account already linked to (issuer, `sub`).
    pub linked: Option<UserId>,
    /// The account whose email is the provider's email, if any.
    pub by_email: Option<SsoAccount>,
    /// The provider says the email is verified (`email_verified: true`).
    pub provider_email_verified: bool,
    /// The email has an address at all.
    pub has_email: bool,
}

/// An existing account with the provider's email.
#[derive(Clone, Copy, Debug)]
pub struct SsoAccount {
    pub user: UserId,
    /// It has signed up (an invited account has not).
    pub signed_up: bool,
    /// Its email is verified: it accepted an invitation, used a reset link, or signed in
    /// with a verified email through a provider before.
    pub email_verified: bool,
    /// It belongs to an organization other than the provider's (as any member, even invited),
    /// or it is the instance admin: the provider's owner does not control it.
    pub elsewhere: bool,
}

/// Why an SSO sign-in is refused (the reason of its login event, and its error code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsoRefusal {
    /// The provider did not say the email is verified.
    EmailNotVerified,
    /// An account with this email exists but its email was never verified here.
    AccountEmailNotVerified,
    /// No account, and the provider does not provision accounts.
    JitDisabled,
    /// The email's domain is not allowed (by the provider or the organization).
    DomainNotAllowed,
    /// The account is disabled in the organization.
    Disabled,
    /// An account with this email belongs to another organization (or is the instance admin):
    /// a provider of this organization cannot claim it by email.
    AccountElsewhere,
}

impl SsoRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::EmailNotVerified => "email_not_verified",
            Self::AccountEmailNotVerified => "account_email_not_verified",
            Self::JitDisabled => "jit_disabled",
            Self::DomainNotAllowed => "domain_not_allowed",
            Self::Disabled => "disabled",
            Self::AccountElsewhere => "account_in_other_organization",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            Self::EmailNotVerified => {
                "your identity provider did not confirm that your email address is verified"
            }
            Self::AccountEmailNotVerified => {
                "an account with this email exists, but its email was never verified: sign in with its password (or reset it) first"
            }
            Self::JitDisabled => {
                "you have no account in this organization: ask an owner or admin for an invitation"
            }
            Self::DomainNotAllowed => {
                "accounts of your email's domain cannot join this organization"
            }
            Self::Disabled => "this account is disabled in this organization",
            Self::AccountElsewhere => {
                "an account with this email belongs to another organization: sign in with its password"
            }
        }
    }
}

/// Whether the ID token's `amr` (RFC 8176) says the provider checked more than one factor:
/// `mfa` itself, or a second factor's method (a one-time code, a hardware or software key, a
/// smart card). Only then does an SSO sign-in count as two-factor (SPEC §9).
pub fn amr_is_mfa(amr: &[String]) -> bool {
    amr.iter()
        .any(|m| matches!(m.as_str(), "mfa" | "otp" | "hwk" | "swk" | "sc"))
}

/// Which account an identity signs in as: the one linked to (issuer, `sub`); else the account
/// with its email, linked only when the provider verified the email and the account's email
/// is verified too (an invited account counts as verified by the provider's word: the
/// invitation was sent to that address); else a new account, when the email is verified.
///
/// A provider is configured by one organization's owners, who control what it says: it may
/// claim by email only an account that belongs to no other organization and is not the
/// instance admin. Otherwise an owner's own provider could sign in as anyone's account.
pub fn sso_decide(f: &SsoFacts) -> Result<Option<UserId>, SsoRefusal> {
    if let Some(u) = f.linked {
        return Ok(Some(u));
    }
    if !f.provider_email_verified || !f.has_email {
        return Err(SsoRefusal::EmailNotVerified);
    }
    match f.by_email {
        Some(a) if a.elsewhere => Err(SsoRefusal::AccountElsewhere),
        Some(a) if a.signed_up && !a.email_verified => Err(SsoRefusal::AccountEmailNotVerified),
        Some(a) => Ok(Some(a.user)),
        None => Ok(None),
    }
}

/// The account's standing in the provider's organization, and what joining takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsoMembership {
    /// An active member: nothing to do.
    Active,
    /// Invited: the sign-in activates the membership (and spends the invitations).
    Invited,
    /// Not a member: joins just in time, if the provider allows it.
    Join,
}

/// Whether the account may sign in to the organization: an active or invited member may; a
/// disabled one may not; anyone else joins only when the provider provisions just in time and
/// the email's domain is allowed by the provider and by the organization (rule 19).
pub fn sso_membership(
    status: Option<UserStatus>,
    jit_enabled: bool,
    domain_allowed: bool,
) -> Result<SsoMembership, SsoRefusal> {
    match status {
        Some(UserStatus::Active) => Ok(SsoMembership::Active),
        Some(UserStatus::Invited) => Ok(SsoMembership::Invited),
        Some(UserStatus::Disabled) => Err(SsoRefusal::Disabled),
        None if !jit_enabled => Err(SsoRefusal::JitDisabled),
        None if !domain_allowed => Err(SsoRefusal::DomainNotAllowed),
        None => Ok(SsoMembership::Join),
    }
}

/// One group mapping, with the rank of its role (how many permissions it gives).
#[derive(Clone, Debug)]
pub struct RankedMapping<'a> {
    pub group: &'a str,
    pub workspace: WorkspaceId,
    pub role: RoleId,
    pub rank: usize,
}

/// The workspace roles `groups` map to: for each workspace, the most privileged role among
/// the mappings of the groups the user is in.
pub fn mapped_roles(
    groups: &[String],
    mappings: &[RankedMapping<'_>],
) -> Vec<(WorkspaceId, RoleId)> {
    let mut best: Vec<(WorkspaceId, RoleId, usize)> = Vec::new();
    for m in mappings
        .iter()
        .filter(|m| groups.iter().any(|g| g == m.group))
    {
        match best.iter_mut().find(|(w, _, _)| *w == m.workspace) {
            Some(b) if b.2 < m.rank => *b = (m.workspace, m.role, m.rank),
            Some(_) => {}
            None => best.push((m.workspace, m.role, m.rank)),
        }
    }
    best.into_iter().map(|(w, r, _)| (w, r)).collect()
}

/// `ssoRequired` (SPEC §8): a member of an organization that requires SSO does not sign in with
/// a password, unless an owner marked break-glass. `memberships` are the account's active
/// memberships: (organization requires SSO, role there, break-glass). Answers the index of the
/// first membership that refuses.
pub fn check_sso_password_sign_in(memberships: &[(bool, OrgRole, bool)]) -> Option<usize> {
    memberships
        .iter()
        .position(|&(required, role, break_glass)| {
            required && !(role == OrgRole::Owner && break_glass)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(local_next(Some("/chatflows?x=1")), "/chatflows?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "chatflows",
            "",
        ] {
            assert_eq!(local_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_next(None), "/");
    }

    #[test]
    fn only_a_second_factor_in_amr_counts_as_mfa() {
        let amr = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!amr_is_mfa(&amr(&[])));
        assert!(!amr_is_mfa(&amr(&["pwd"])));
        assert!(!amr_is_mfa(&amr(&["pwd", "kba"])));
        assert!(amr_is_mfa(&amr(&["pwd", "mfa"])));
        assert!(amr_is_mfa(&amr(&["pwd", "otp"])));
        assert!(amr_is_mfa(&amr(&["hwk"])));
    }

    #[test]
    fn identities_link_only_between_verified_emails() {
        let acct = |signed_up, email_verified| SsoAccount {
            user: UserId::new(),
            signed_up,
            email_verified,
            elsewhere: false,
        };
        let facts = |by_email, verified| SsoFacts {
            linked: None,
            by_email,
            provider_email_verified: verified,
            has_email: true,
        };
        assert_eq!(
            sso_decide(&facts(Some(acct(true, true)), false)),
            Err(SsoRefusal::EmailNotVerified)
        );
        assert_eq!(
            sso_decide(&facts(Some(acct(true, false)), true)),
            Err(SsoRefusal::AccountEmailNotVerified)
        );
        let a = acct(true, true);
        assert_eq!(sso_decide(&facts(Some(a), true)), Ok(Some(a.user)));
        let invited = acct(false, false);
        assert_eq!(
            sso_decide(&facts(Some(invited), true)),
            Ok(Some(invited.user))
        );
        assert_eq!(sso_decide(&facts(None, true)), Ok(None));
        // An account of another organization (or the instance admin) is never claimed by email,
        // invited or not.
        for (signed_up, verified) in [(true, true), (false, false)] {
            let elsewhere = SsoAccount {
                elsewhere: true,
                ..acct(signed_up, verified)
            };
            assert_eq!(
                sso_decide(&facts(Some(elsewhere), true)),
                Err(SsoRefusal::AccountElsewhere)
            );
        }
        // A linked identity signs in whatever the emails say.
        let linked = UserId::new();
        let f = SsoFacts {
            linked: Some(linked),
            ..facts(None, false)
        };
        assert_eq!(sso_decide(&f), Ok(Some(linked)));
    }

    #[test]
    fn joining_needs_jit_and_an_allowed_domain() {
        assert_eq!(
            sso_membership(None, false, true),
            Err(SsoRefusal::JitDisabled)
        );
        assert_eq!(
            sso_membership(None, true, false),
            Err(SsoRefusal::DomainNotAllowed)
        );
        assert_eq!(sso_membership(None, true, true), Ok(SsoMembership::Join));
        assert_eq!(
            sso_membership(Some(UserStatus::Disabled), true, true),
            Err(SsoRefusal::Disabled)
        );
        assert_eq!(
            sso_membership(Some(UserStatus::Invited), false, false),
            Ok(SsoMembership::Invited)
        );
    }

    #[test]
    fn the_most_privileged_mapped_role_wins() {
        let (w1, w2) = (WorkspaceId::new(), WorkspaceId::new());
        let (viewer, editor) = (RoleId::new(), RoleId::new());
        let maps = [
            RankedMapping {
                group: "eng",
                workspace: w1,
                role: viewer,
                rank: 5,
            },
            RankedMapping {
                group: "leads",
                workspace: w1,
                role: editor,
                rank: 20,
            },
            RankedMapping {
                group: "ops",
                workspace: w2,
                role: viewer,
                rank: 5,
            },
        ];
        let got = mapped_roles(&["eng".into(), "leads".into()], &maps);
        assert_eq!(got, vec![(w1, editor)]);
    }

    #[test]
    fn sso_required_spares_break_glass_owners_only() {
        assert_eq!(
            check_sso_password_sign_in(&[(false, OrgRole::Member, false)]),
            None
        );
        assert_eq!(
            check_sso_password_sign_in(&[(true, OrgRole::Owner, true)]),
            None
        );
        assert_eq!(
            check_sso_password_sign_in(&[(true, OrgRole::Admin, true)]),
            Some(0)
        );
        assert_eq!(
            check_sso_password_sign_in(&[(true, OrgRole::Owner, false)]),
            Some(0)
        );
    }

    #[test]
    fn scopes_always_ask_for_openid() {
        assert_eq!(
            sso_scopes(Some(&["email".into()])).ok(),
            Some(vec!["openid".into(), "email".into()])
        );
        assert!(sso_scopes(Some(&["a b".into()])).is_err());
        assert!(sso_issuer("ftp://x").is_err());
        assert!(sso_issuer("https://login.example.com/tenant/v2.0").is_ok());
        assert!(sso_issuer(" https://login.example.com").is_err());
        assert!(sso_issuer("https://x.example/?a").is_err());
    }
}
