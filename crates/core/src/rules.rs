//! The rules of SPEC §2 that can be decided without storage: field validation and the
//! preconditions of first setup, workspace deletion, unlinking, role deletion and changing a
//! user. The store reads the facts inside the transaction that acts on them and asks here.

use crate::error::{DomainError, DomainResult};
use crate::model::UserStatus;
use serde_json::Value;

pub use crate::text::{
    DESCRIPTION, ICON, ITEM_NAME, MAX_EMAIL_CHARS, NAME, Text, color_pattern, email_pattern,
};

/// Largest serialized `data` of a resource (SPEC §4).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;
pub const MAX_NAME_CHARS: usize = NAME.max_chars;
pub const MAX_ITEM_NAME_CHARS: usize = ITEM_NAME.max_chars;
pub const MAX_DESCRIPTION_CHARS: usize = DESCRIPTION.max_chars;
fn bounded(field: &str, value: &str, rule: Text) -> DomainResult<String> {
    rule.check(field, value)?
        .ok_or_else(|| DomainError::invalid(field, "must not be empty"))
}

/// Rule 5: a workspace name is required, 1–100 characters (uniqueness is the store's).
pub fn workspace_name(name: &str) -> DomainResult<String> {
    bounded("name", name, NAME)
}

/// A role, group or user name: 1–100 characters.
pub fn display_name(field: &str, name: &str) -> DomainResult<String> {
    bounded(field, name, NAME)
}

/// A resource name: 1–200 characters.
pub fn item_name(name: &str) -> DomainResult<String> {
    bounded("name", name, ITEM_NAME)
}

/// An optional description: at most 2000 characters, blank becomes absent.
pub fn description(d: Option<&str>) -> DomainResult<Option<String>> {
    d.map_or(Ok(None), |d| DESCRIPTION.check("description", d))
}

/// An optional workspace color: `#rrggbb`.
pub fn color(c: Option<&str>) -> DomainResult<Option<String>> {
    match c.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v)
            if v.len() == 7
                && v.starts_with('#')
                && v[1..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Ok(Some(v.to_ascii_lowercase()))
        }
        Some(_) => Err(DomainError::invalid(
            "color",
            "must be a color like #1a2b3c",
        )),
    }
}

/// An optional workspace icon: a short name or emoji, at most 64 characters.
pub fn icon(i: Option<&str>) -> DomainResult<Option<String>> {
    i.map_or(Ok(None), |i| ICON.check("icon", i))
}

/// An email address, trimmed. Emails are unique per installation, compared case-insensitively
/// (see `normalize_email`).
pub fn email(e: &str) -> DomainResult<String> {
    let bad = || DomainError::invalid("email", "must be an email address like name@example.com");
    if e.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad());
    }
    let e = e.trim();
    if e.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\",;:()[]\\".contains(c))
    {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(e.to_string())
}

/// The form under which emails are compared and kept unique.
pub fn normalize_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// A resource's `data`: a JSON object of at most 1 MiB once serialized. Returns the
/// serialized text, which is what the store keeps.
pub fn item_data(data: Option<&Value>) -> DomainResult<String> {
    let text = match data {
        None => return Ok("{}".to_string()),
        Some(v @ Value::Object(_)) => serde_json::to_string(v).map_err(DomainError::internal)?,
        Some(_) => return Err(DomainError::invalid("data", "must be a JSON object")),
    };
    if text.len() > MAX_DATA_BYTES {
        return Err(DomainError::invalid("data", "must be at most 1 MiB"));
    }
    Ok(text)
}

/// The types of a variable.
pub const VARIABLE_TYPES: [&str; 2] = ["static", "runtime"];

/// A variable's data: `{value, type: "static" | "runtime"}`.
pub fn variable_data(data: Option<&Value>) -> DomainResult<()> {
    let Some(Value::Object(map)) = data else {
        return Err(DomainError::invalid(
            "data",
            "a variable needs {\"value\": ..., \"type\": \"static\" | \"runtime\"}",
        ));
    };
    match map.get("type").and_then(Value::as_str) {
        Some(t) if VARIABLE_TYPES.contains(&t) => {}
        _ => {
            return Err(DomainError::invalid(
                "data.type",
                "must be \"static\" or \"runtime\"",
            ));
        }
    }
    match map.get("value") {
        Some(Value::String(_)) => {}
        _ => return Err(DomainError::invalid("data.value", "must be a string")),
    }
    if let Some(k) = map.keys().find(|k| *k != "type" && *k != "value") {
        return Err(DomainError::invalid(
            format!("data.{k}"),
            "is not a field of a variable",
        ));
    }
    Ok(())
}

/// A credential's secret data: a JSON object with at least one field.
pub fn credential_data(data: &Value) -> DomainResult<Vec<String>> {
    let Value::Object(map) = data else {
        return Err(DomainError::invalid(
            "data",
            "must be a JSON object of secret fields",
        ));
    };
    if map.is_empty() {
        return Err(DomainError::invalid(
            "data",
            "must hold at least one secret field",
        ));
    }
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    Ok(keys)
}

/// The version sent with an update must be the current one (rule 13).
pub fn check_version(current: i64, sent: i64) -> DomainResult<()> {
    if current == sent {
        Ok(())
    } else {
        Err(DomainError::conflict(
            "version_conflict",
            format!(
                "the item changed since you read it (version {sent}, now {current}); read it again and retry"
            ),
        ))
    }
}

/// Rule 6: the Default workspace is never deleted, nor one where members other than the
/// Account Admin remain.
pub fn check_workspace_deletable(is_default: bool, other_members: i64) -> DomainResult<()> {
    if is_default {
        return Err(DomainError::conflict(
            "default_workspace",
            "the Default workspace cannot be deleted",
        ));
    }
    if other_members > 0 {
        return Err(DomainError::conflict(
            "workspace_has_members",
            format!(
                "{other_members} member(s) other than the Account Admin remain; unlink them first"
            ),
        ));
    }
    Ok(())
}

/// Rule 8: a role in use cannot be deleted.
pub fn check_role_deletable(builtin: bool, in_use: i64) -> DomainResult<()> {
    if builtin {
        return Err(DomainError::conflict(
            "builtin_role",
            "built-in roles cannot be changed",
        ));
    }
    if in_use > 0 {
        return Err(DomainError::conflict(
            "role_in_use",
            format!("the role is still given to {in_use} member(s) or group(s)"),
        ));
    }
    Ok(())
}

/// Rule 1: setup happens once; `setup_done` says whether it already has.
pub fn check_first_setup(setup_done: bool) -> DomainResult<()> {
    if setup_done {
        return Err(DomainError::conflict(
            "setup_done",
            "setup has already been done",
        ));
    }
    Ok(())
}

/// Rule 7: any member can be unlinked from a workspace, the organization's Account Admin never
/// (`is_account_admin`: the user to unlink is the Account Admin of the workspace's
/// organization).
pub fn check_unlinkable(is_account_admin: bool) -> DomainResult<()> {
    if is_account_admin {
        return Err(DomainError::conflict(
            "account_admin",
            "the Account Admin cannot be unlinked from a workspace",
        ));
    }
    Ok(())
}

/// What the Account Admin asks of a user account (rule 10). A name change needs no check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserChange {
    /// Setting the status.
    Status(UserStatus),
    Delete,
}

/// Rule 10: the Account Admin sets a user `active` or `disabled` (422 for anything else) and
/// deletes users; the Account Admin themselves is never disabled or deleted, and an invited
/// user's status is not set by hand (they become active by signing up). `is_account_admin`
/// and `status` are the target user's.
pub fn check_user_change(
    is_account_admin: bool,
    status: UserStatus,
    change: UserChange,
) -> DomainResult<()> {
    match change {
        UserChange::Status(to) => {
            if !UserStatus::SETTABLE.contains(&to) {
                return Err(DomainError::invalid(
                    "status",
                    "must be \"active\" or \"disabled\"",
                ));
            }
            if is_account_admin && to == UserStatus::Disabled {
                return Err(DomainError::conflict(
                    "account_admin",
                    "the Account Admin cannot be disabled",
                ));
            }
            if status == UserStatus::Invited {
                return Err(DomainError::conflict(
                    "user_invited",
                    "an invited user becomes active by signing up",
                ));
            }
        }
        UserChange::Delete if is_account_admin => {
            return Err(DomainError::conflict(
                "account_admin",
                "the Account Admin cannot be deleted",
            ));
        }
        UserChange::Delete => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(workspace_name("  Sales ").unwrap(), "Sales");
        assert!(workspace_name("   ").is_err());
        assert!(workspace_name(&"x".repeat(101)).is_err());
        assert!(workspace_name(&"é".repeat(100)).is_ok());
        assert!(workspace_name("a\u{0}b").is_err());
        assert!(description(Some("a\u{0}b")).is_err());
        assert_eq!(
            description(Some(" two\nlines\t ")).unwrap().as_deref(),
            Some("two\nlines")
        );
    }

    #[test]
    fn emails() {
        assert!(email("a@b.co").is_ok());
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a b@c.de",
            "a@.com",
            "a@@b.co",
            "x<victim@corp.com>",
            "\"x\"@b.co",
            "a@b.co,c@d.co",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_email(" A@B.Co "), "a@b.co");
    }

    #[test]
    fn data_must_be_a_small_object() {
        assert_eq!(item_data(None).unwrap(), "{}");
        assert!(item_data(Some(&json!([1]))).is_err());
        assert!(item_data(Some(&json!({"a": "x".repeat(MAX_DATA_BYTES)}))).is_err());
        assert!(variable_data(Some(&json!({"value": "v", "type": "static"}))).is_ok());
        assert!(variable_data(Some(&json!({"value": "v", "type": "other"}))).is_err());
        assert!(variable_data(Some(&json!({"value": 1, "type": "runtime"}))).is_err());
        assert!(credential_data(&json!({})).is_err());
        assert_eq!(
            credential_data(&json!({"b": 1, "a": 2})).unwrap(),
            vec!["a", "b"]
        );
    }

    #[test]
    fn deletion_preconditions() {
        assert!(check_workspace_deletable(true, 0).is_err());
        let e = check_workspace_deletable(false, 2).unwrap_err().to_string();
        assert!(e.contains('2'), "{e}");
        assert!(check_workspace_deletable(false, 0).is_ok());
        assert!(
            check_role_deletable(false, 3)
                .unwrap_err()
                .to_string()
                .contains('3')
        );
        assert!(check_role_deletable(true, 0).is_err());
    }

    fn conflict_code(r: DomainResult<()>) -> &'static str {
        match r {
            Err(DomainError::Conflict { code, .. }) => code,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn setup_happens_once() {
        assert!(check_first_setup(false).is_ok());
        assert_eq!(conflict_code(check_first_setup(true)), "setup_done");
    }

    #[test]
    fn the_account_admin_is_never_unlinked() {
        assert!(check_unlinkable(false).is_ok());
        assert_eq!(conflict_code(check_unlinkable(true)), "account_admin");
    }

    #[test]
    fn the_account_admin_is_never_disabled_or_deleted() {
        use UserStatus::{Active, Disabled};
        let admin = |change| check_user_change(true, Active, change);
        assert_eq!(
            conflict_code(admin(UserChange::Status(Disabled))),
            "account_admin"
        );
        assert_eq!(conflict_code(admin(UserChange::Delete)), "account_admin");
        assert!(admin(UserChange::Status(Active)).is_ok());
        // Anyone else can be disabled, enabled again and deleted.
        for change in [
            UserChange::Status(Disabled),
            UserChange::Status(Active),
            UserChange::Delete,
        ] {
            assert!(
                check_user_change(false, Active, change).is_ok(),
                "{change:?}"
            );
            assert!(
                check_user_change(false, Disabled, change).is_ok(),
                "{change:?}"
            );
        }
    }

    #[test]
    fn a_status_is_set_to_active_or_disabled_and_never_on_an_invited_user() {
        use UserStatus::{Active, Disabled, Invited};
        // `invited` is not a status to set, whoever the user is (422 before any 409).
        for (admin, status) in [(false, Active), (true, Active), (false, Invited)] {
            match check_user_change(admin, status, UserChange::Status(Invited)) {
                Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "status"),
                other => panic!("expected 422, got {other:?}"),
            }
        }
        for to in [Active, Disabled] {
            assert_eq!(
                conflict_code(check_user_change(false, Invited, UserChange::Status(to))),
                "user_invited"
            );
        }
        // An invited user who never signed up can be deleted.
        assert!(check_user_change(false, Invited, UserChange::Delete).is_ok());
    }
}
