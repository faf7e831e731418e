//! The rules of SPEC §2 that can be decided without storage, one room per subject: field
//! validation, first setup, workspace deletion, roles, the Account Admin's protections and a
//! user account's changes, signing in, password reset, shared credentials, and versions. The
//! store reads the facts inside the transaction that acts on them and asks here; every item is
//! re-exported so that callers name `rules::X` whatever room it lives in.

mod accounts;
mod credentials;
mod fields;
pub mod mfa;
mod organizations;
mod reset;
mod roles;
mod setup;
mod sign_in;
mod sso;
mod versions;
mod workspaces;

pub use accounts::{UserChange, check_member_role_changeable, check_unlinkable, check_user_change};
pub use credentials::{
    CredentialWrite, check_credential_writable, check_share_targets, usage_names,
};
pub use fields::{
    DESCRIPTION, ICON, ITEM_NAME, MAX_DATA_BYTES, MAX_DESCRIPTION_CHARS, MAX_EMAIL_CHARS,
    MAX_ITEM_NAME_CHARS, MAX_NAME_CHARS, NAME, Text, VARIABLE_TYPES, color, color_pattern,
    credential_data, description, display_name, email, email_pattern, icon, item_data, item_name,
    normalize_email, variable_data, workspace_name,
};
pub use organizations::{
    MemberChange, account_status, check_invitation_domain, check_member_change, check_name_change,
    check_settings_change, email_domains, min_password_length, organization_name,
    session_lifetime_minutes,
};
pub use reset::{ResetToken, may_request_reset, reset_token_check};
pub use roles::{check_role_deletable, check_role_editable, role_delete_refusal};
pub use setup::check_first_setup;
pub use sign_in::{SignIn, sign_in};
pub use sso::{
    ISSUER_PATTERN, MAX_GROUP_CHARS, MAX_SCOPES, MAX_SSO_TEXT_CHARS, RankedMapping, SCOPE_PATTERN,
    SSO_FLOW_SECONDS, SSO_TEXT_PATTERN, SsoAccount, SsoFacts, SsoMembership, SsoRefusal,
    amr_is_mfa, check_sso_password_sign_in, email_domain_allowed, local_next, mapped_roles,
    sso_client_id, sso_decide, sso_issuer, sso_membership, sso_scopes, sso_text,
};
pub use versions::check_version;
pub use workspaces::{check_workspace_deletable, workspace_delete_refusal};

/// The code of the conflict `r` refuses with (tests only).
#[cfg(test)]
fn conflict_code(r: crate::DomainResult<()>) -> &'static str {
    match r {
        Err(crate::DomainError::Conflict { code, .. }) => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}
