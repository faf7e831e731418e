//! What templates read: API answers wrapped for easy access (`V`), and the layout's context
//! (`Ctx`: the signed-in user, their workspaces and permissions, the CSRF token, the toast).

use flowspace_core::permissions::Permission;
use flowspace_core::resource::ResourceKind;
use serde_json::Value;

/// A JSON value from the API, with accessors that never fail (a missing field reads empty).
#[derive(Clone, Debug, Default)]
pub struct V(pub Value);

impl V {
    pub fn get(&self, key: &str) -> V {
        V(self.0.get(key).cloned().unwrap_or(Value::Null))
    }
    /// A field as text (`""` when missing or null).
    pub fn s(&self, key: &str) -> String {
        match self.0.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }
    }
    pub fn b(&self, key: &str) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn n(&self, key: &str) -> i64 {
        self.0.get(key).and_then(Value::as_i64).unwrap_or(0)
    }
    pub fn has(&self, key: &str) -> bool {
        !matches!(self.0.get(key), None | Some(Value::Null))
    }
    pub fn list(&self, key: &str) -> Vec<V> {
        match self.0.get(key) {
            Some(Value::Array(a)) => a.iter().cloned().map(V).collect(),
            _ => Vec::new(),
        }
    }
    /// The items of a list answer (`{items: [...]}`) or of a bare array.
    pub fn items(&self) -> Vec<V> {
        match &self.0 {
            Value::Array(a) => a.iter().cloned().map(V).collect(),
            _ => self.list("items"),
        }
    }
    pub fn strs(&self, key: &str) -> Vec<String> {
        self.list(key)
            .into_iter()
            .filter_map(|v| v.0.as_str().map(str::to_string))
            .collect()
    }
    pub fn contains(&self, key: &str, value: &str) -> bool {
        self.strs(key).iter().any(|s| s == value)
    }
    /// A date-time field as `2026-11-23 10:02` (UTC), or `—`.
    pub fn time(&self, key: &str) -> String {
        let s = self.s(key);
        if s.len() < 16 {
            return "—".into();
        }
        format!("{} {}", &s[..10], &s[11..16])
    }
    /// A field as indented JSON (`{}` when missing).
    pub fn pretty(&self, key: &str) -> String {
        match self.0.get(key) {
            None | Some(Value::Null) => "{}".into(),
            Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        }
    }
    /// The value itself as text (for arrays of strings).
    pub fn text(&self) -> String {
        match &self.0 {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        }
    }
}

/// A toast: the result of the last action, shown once.
#[derive(Clone, Debug)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

impl Flash {
    pub const COOKIE: &'static str = "fs_flash";

    pub fn encode(&self) -> String {
        let text: String = self.text.chars().take(600).collect();
        format!(
            "{}:{}",
            if self.ok { "ok" } else { "err" },
            percent_encode(&text)
        )
    }
    pub fn decode(raw: &str) -> Option<Self> {
        let (kind, text) = raw.split_once(':')?;
        Some(Self {
            ok: kind == "ok",
            text: percent_decode(text),
        })
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One link of the sidebar.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// The permission that shows the link (`None`: the Account Admin's section).
    pub needs: Option<Permission>,
}

/// The sidebar's resource pages: one per kind of the catalogue, shown with its `:view`.
pub fn resource_nav_links() -> &'static [NavLink] {
    static LINKS: std::sync::OnceLock<Vec<NavLink>> = std::sync::OnceLock::new();
    LINKS.get_or_init(|| {
        ResourceKind::ALL
            .into_iter()
            .map(|k| NavLink {
                href: k.page(),
                label: k.resource().title(),
                needs: Some(k.view()),
            })
            .collect()
    })
}

pub const ADMIN_NAV: &[NavLink] = &[
    NavLink {
        href: "/users",
        label: "Users",
        needs: None,
    },
    NavLink {
        href: "/workspaces",
        label: "Workspaces",
        needs: None,
    },
    NavLink {
        href: "/roles",
        label: "Roles",
        needs: None,
    },
    NavLink {
        href: "/groups",
        label: "Groups",
        needs: None,
    },
    NavLink {
        href: "/login-activity",
        label: "Login Activity",
        needs: None,
    },
    NavLink {
        href: "/audit-log",
        label: "Audit Log",
        needs: None,
    },
];

/// The layout's context: who is signed in, where, and what they may do there.
pub struct Ctx {
    /// `GET /api/v1/auth/me`.
    pub me: V,
    /// `GET /api/v1/workspaces`: the switcher's choices.
    pub workspaces: Vec<V>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// The page's path and query, where forms come back to.
    pub here: String,
    /// The sidebar entry to highlight.
    pub section: String,
    pub title: String,
}

impl Ctx {
    pub fn can(&self, permission: &str) -> bool {
        self.me.contains("permissions", permission)
    }
    pub fn is_admin(&self) -> bool {
        self.me.b("isAccountAdmin")
    }
    pub fn user(&self) -> V {
        self.me.get("user")
    }
    pub fn active_id(&self) -> String {
        self.me.get("activeWorkspace").s("id")
    }
    pub fn active_name(&self) -> String {
        self.me.get("activeWorkspace").s("name")
    }
    pub fn role(&self) -> String {
        self.me.get("activeWorkspace").s("role")
    }
    pub fn org(&self) -> String {
        self.me.get("organization").s("name")
    }
    pub fn initials(&self) -> String {
        super::page::initials(&self.user().s("name"))
    }
    pub fn user_name(&self) -> String {
        self.user().s("name")
    }
    pub fn user_email(&self) -> String {
        self.user().s("email")
    }
    /// The workspace switcher's choices: id, name, and whether it is the active one.
    pub fn switcher(&self) -> Vec<(String, String, bool)> {
        let active = self.active_id();
        self.workspaces
            .iter()
            .map(|w| (w.s("id"), w.s("name"), w.s("id") == active))
            .collect()
    }
    pub fn resource_nav(&self) -> Vec<&'static NavLink> {
        resource_nav_links()
            .iter()
            .filter(|l| l.needs.is_none_or(|p| self.can(&p.to_string())))
            .collect()
    }
    /// As `page::Ctx::manage_link`, for the pages not converted yet.
    pub fn manage_link(&self) -> Option<String> {
        let manages = [
            "workspace:add-user",
            "workspace:update",
            "workspace:unlink-user",
        ]
        .into_iter()
        .any(|p| self.can(p));
        let id = self.active_id();
        (manages && !self.is_admin() && !id.is_empty()).then(|| format!("/workspaces/{id}"))
    }
    pub fn admin_nav(&self) -> &'static [NavLink] {
        if self.is_admin() { ADMIN_NAV } else { &[] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_round_trips_any_text() {
        for text in ["Saved", "a:b; c=d %20 é ✓", ""] {
            let f = Flash {
                ok: false,
                text: text.into(),
            };
            let back = Flash::decode(&f.encode()).unwrap();
            assert_eq!(back.text, text);
            assert!(!back.ok);
        }
        assert!(
            Flash::encode(&Flash {
                ok: true,
                text: "x y".into()
            })
            .starts_with("ok:x%20y")
        );
    }
}
