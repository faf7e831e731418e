//! The bounds of text fields and email addresses, declared once: the checks of `rules` and
//! the `pattern`, `minLength` and `maxLength` of the OpenAPI document are both built from
//! them, and the tests below hold the two to the same answers.

use crate::error::{DomainError, DomainResult};

/// Longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The bounds of a text field, declared once: the check below and the field's schema in the
/// OpenAPI document (`pattern`, `minLength`, `maxLength`) are both built from them, so the
/// document cannot promise more or less than the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    /// Most characters (Unicode scalar values, as JSON Schema counts them), surrounding
    /// whitespace included.
    pub max_chars: usize,
    /// Blank is refused (names); otherwise blank reads as absent (descriptions).
    pub required: bool,
    /// Line breaks and tabs are allowed (descriptions); other control characters never are.
    pub multiline: bool,
}

/// Role, group, user, organization and workspace names.
pub const NAME: Text = Text {
    max_chars: 100,
    required: true,
    multiline: false,
};
/// Resource names.
pub const ITEM_NAME: Text = Text {
    max_chars: 200,
    ..NAME
};
/// Descriptions.
pub const DESCRIPTION: Text = Text {
    max_chars: 2000,
    required: false,
    multiline: true,
};
/// A workspace's icon: a short name or emoji.
pub const ICON: Text = Text {
    max_chars: 64,
    required: false,
    multiline: false,
};

/// `char::is_whitespace` (Unicode White_Space), what `str::trim` strips, as a regex class body.
const WHITESPACE: &str = r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// `char::is_control` (general category Cc) as a regex class body.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// The control characters a multi-line text refuses: all but tab, line feed and carriage return.
const CONTROL_MULTILINE: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";
/// Characters never allowed in an email address besides whitespace and control characters.
const EMAIL_SPECIALS: &str = r#"<>",;:()\[\]\\"#;

impl Text {
    /// The field's value, trimmed, or why it is refused. `None`: blank and not required.
    pub fn check(&self, field: &str, value: &str) -> DomainResult<Option<String>> {
        if value.chars().count() > self.max_chars {
            return Err(DomainError::invalid(
                field,
                format!("must be at most {} characters", self.max_chars),
            ));
        }
        let allowed =
            |c: char| !c.is_control() || (self.multiline && matches!(c, '\n' | '\r' | '\t'));
        if !value.chars().all(allowed) {
            return Err(DomainError::invalid(
                field,
                if self.multiline {
                    "must not contain control characters other than line breaks and tabs"
                } else {
                    "must not contain control characters"
                },
            ));
        }
        match value.trim() {
            "" if self.required => Err(DomainError::invalid(field, "must not be empty")),
            "" => Ok(None),
            v => Ok(Some(v.to_string())),
        }
    }

    /// The ECMA-262 regular expression (JSON Schema's `pattern`) of exactly the values
    /// `check` accepts, within `max_chars`.
    pub fn pattern(&self) -> String {
        let control = if self.multiline {
            CONTROL_MULTILINE
        } else {
            CONTROL
        };
        if self.required {
            // Something that is not whitespace, among characters that are not refused.
            format!("^[^{control}]*[^{CONTROL}{WHITESPACE}][^{control}]*$")
        } else {
            format!("^[^{control}]*$")
        }
    }

    /// The smallest length the schema admits.
    pub fn min_chars(&self) -> usize {
        usize::from(self.required)
    }
}

/// The ECMA-262 regular expression (JSON Schema's `pattern`) of exactly the addresses `email`
/// accepts, within `MAX_EMAIL_CHARS`: one `@`, a domain with an inner dot, surrounding
/// whitespace allowed.
pub fn email_pattern() -> String {
    let c = format!("[^@{WHITESPACE}{CONTROL}{EMAIL_SPECIALS}]");
    let d = format!("[^@.{WHITESPACE}{CONTROL}{EMAIL_SPECIALS}]");
    format!("^[{WHITESPACE}]*{c}+@{d}{c}*\\.{c}*{d}[{WHITESPACE}]*$")
}

/// The `pattern` of the colors `color` accepts (blank means none).
pub fn color_pattern() -> String {
    format!("^[{WHITESPACE}]*(#[0-9A-Fa-f]{{6}})?[{WHITESPACE}]*$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::email;

    /// What the document's `pattern` and length bounds admit is what the check accepts.
    fn schema_admits(pattern: &str, min: usize, max: usize, v: &str) -> bool {
        let n = v.chars().count();
        n >= min && n <= max && regex::Regex::new(pattern).unwrap().is_match(v)
    }

    const SAMPLES: &[&str] = &[
        "",
        " ",
        "a",
        " a ",
        "\t",
        "a\tb",
        "a\nb",
        "\na",
        "a\u{0}",
        "\u{7f}",
        "\u{85}",
        "\u{a0}",
        "\u{a0}x",
        "\u{3000}",
        "\u{feff}",
        "\u{200b}",
        "é",
        "日本",
        "a@b.co",
        " a@b.co\n",
        "a@@b.co",
        "@b.co",
        "a@b",
        "a@.b.co",
        "a@b.co.",
        "a@é.x",
        "a b@c.de",
        "x<y@z.co>",
        "a@b.c\u{0}o",
        "a\u{2028}@b.co",
        "\u{1680}",
        "\u{9f}",
        "\u{1f}",
    ];

    fn padded(v: &str, n: usize) -> Vec<String> {
        vec![
            format!("{}{v}", "x".repeat(n.saturating_sub(v.chars().count()))),
            format!("{v}{}", " ".repeat(n.saturating_sub(v.chars().count()))),
        ]
    }

    proptest::proptest! {
        #[test]
        fn text_patterns_are_the_checks(s in "[a \\t\\n\\r\\x00-\\x1f\\x7f-\\xa0\\u{2000}-\\u{200b}\\u{3000}\\u{feff}é@.<]{0,12}") {
            for rule in [NAME, ITEM_NAME, DESCRIPTION, ICON] {
                let p = rule.pattern();
                proptest::prop_assert_eq!(
                    schema_admits(&p, rule.min_chars(), rule.max_chars, &s),
                    rule.check("f", &s).is_ok(),
                    "{:?} {:?}", rule, s
                );
            }
            proptest::prop_assert_eq!(
                schema_admits(&email_pattern(), 0, MAX_EMAIL_CHARS, &s),
                email(&s).is_ok(),
                "email {:?}", s
            );
        }
    }

    #[test]
    fn text_bounds_are_the_checks() {
        for rule in [NAME, ITEM_NAME, DESCRIPTION, ICON] {
            let p = rule.pattern();
            for v in SAMPLES {
                for v in std::iter::once(v.to_string())
                    .chain(padded(v, rule.max_chars))
                    .chain(padded(v, rule.max_chars + 1))
                {
                    assert_eq!(
                        schema_admits(&p, rule.min_chars(), rule.max_chars, &v),
                        rule.check("f", &v).is_ok(),
                        "{rule:?} {v:?}"
                    );
                }
            }
        }
        let p = email_pattern();
        for v in SAMPLES {
            let long = format!("{}{v}", "a".repeat(250));
            for v in [v.to_string(), long] {
                assert_eq!(
                    schema_admits(&p, 0, MAX_EMAIL_CHARS, &v),
                    email(&v).is_ok(),
                    "email {v:?}"
                );
            }
        }
    }
}
