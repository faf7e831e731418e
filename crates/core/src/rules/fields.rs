//! Field validation (rules 5 and 14): names, descriptions, workspace colors and icons, emails,
//! and the `data` of resources, variables and credentials.

use crate::error::{DomainError, DomainResult};
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
}
