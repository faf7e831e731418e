//! What every page's layout shows beside the page: the toast of the last action (`Flash`) and
//! the sidebar's links (`NavLink`; the layout's context itself is `page::Ctx`).

use flowspace_core::perm;
use flowspace_core::permissions::Permission;
use flowspace_core::resource::ResourceKind;

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

/// The sidebar's links to move items in and out of the active workspace.
pub const TRANSFER_NAV: &[NavLink] = &[
    NavLink {
        href: "/export",
        label: "Export",
        needs: Some(perm!(Workspace, Export)),
    },
    NavLink {
        href: "/import",
        label: "Import",
        needs: Some(perm!(Workspace, Import)),
    },
];

/// The Account Admin's section (owners and admins of the active organization).
pub const ADMIN_NAV: &[NavLink] = &[
    NavLink {
        href: "/organization",
        label: "Organization Settings",
        needs: None,
    },
    NavLink {
        href: "/organization/members",
        label: "Members",
        needs: None,
    },
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
        href: "/move-flows",
        label: "Move / copy flows",
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
