//! Outgoing email (rules 9 and 16): invitations, "you were added" notices and password resets,
//! each a plain-text and HTML pair rendered from the askama templates under
//! `templates/email/` (compiled into the binary) and sent over SMTP with `lettre`.
//!
//! Mail is sent after the database change it announces has been committed; a failure is
//! reported to the caller (`MailStatus`) and never undoes the change. Without `SMTP_HOST` the
//! mailer sends nothing and the links are handed back to the API caller (and logged) instead.

use crate::config::Config;
use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How the SMTP connection is secured (`SMTP_SECURE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`true`, `tls`; port 465 by default).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (`starttls`; port 587).
    StartTls,
    /// No encryption (`false`, `none`; port 25): only for a relay on the same host or a test.
    None,
}

impl SmtpSecurity {
    pub fn parse(raw: Option<&str>, port: Option<u16>) -> Result<Self, String> {
        match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") => Ok(if port == Some(465) {
                Self::Tls
            } else {
                Self::StartTls
            }),
            Some("true" | "tls" | "ssl") => Ok(Self::Tls),
            Some("starttls") => Ok(Self::StartTls),
            Some("false" | "none") => Ok(Self::None),
            Some(other) => Err(format!(
                "SMTP_SECURE must be starttls, tls/true or none/false, not {other:?}"
            )),
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Tls => 465,
            Self::StartTls => 587,
            Self::None => 25,
        }
    }
}

/// Whether an email went out, as API answers report it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailStatus {
    pub sent: bool,
    /// Why it was not sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MailStatus {
    fn sent() -> Self {
        Self {
            sent: true,
            error: None,
        }
    }
    fn failed(error: impl Into<String>) -> Self {
        Self {
            sent: false,
            error: Some(error.into()),
        }
    }
}

/// One email, rendered.
#[derive(Clone, Debug)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Sends the server's emails, or says it cannot.
pub struct Mailer {
    smtp: Option<Smtp>,
    app_url: String,
}

pub const NOT_CONFIGURED: &str = "SMTP is not configured: share the link yourself";

impl Mailer {
    /// Reads `SMTP_*`, `SENDER_EMAIL` and `APP_URL`. Without `SMTP_HOST` the mailer is off.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let app_url = config.app_url.trim_end_matches('/').to_string();
        let Some(host) = config
            .smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        else {
            return Ok(Self {
                smtp: None,
                app_url,
            });
        };
        let security = SmtpSecurity::parse(config.smtp_secure.as_deref(), config.smtp_port)?;
        let port = config.smtp_port.unwrap_or(security.default_port());
        let tls = match security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::Tls | SmtpSecurity::StartTls => {
                let params = TlsParameters::new(host.to_string())
                    .map_err(|e| format!("SMTP TLS parameters: {e}"))?;
                if security == SmtpSecurity::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(15)));
        // No SMTP_USER: no AUTH at all (a local relay, a test sink).
        if let Some(user) = config.smtp_user.as_deref().filter(|u| !u.is_empty()) {
            let password = config
                .smtp_password
                .as_ref()
                .map(|p| p.expose_secret().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.to_string(), password));
        }
        let sender = config
            .sender_email
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| {
                tracing::warn!("SENDER_EMAIL is not set: sending as flowspace@localhost");
                "flowspace@localhost".to_string()
            });
        let from = format!("Flowspace <{sender}>")
            .parse::<Mailbox>()
            .map_err(|e| format!("SENDER_EMAIL {sender:?} is not an email address: {e}"))?;
        Ok(Self {
            smtp: Some(Smtp {
                transport: builder.build(),
                from,
            }),
            app_url,
        })
    }

    pub fn is_configured(&self) -> bool {
        self.smtp.is_some()
    }

    /// A dashboard link carrying a token: `{APP_URL}/{page}?token=...`.
    pub fn token_link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.app_url)
    }

    /// The dashboard's sign-in page.
    pub fn login_link(&self) -> String {
        format!("{}/login", self.app_url)
    }

    /// Sends one email; never fails the request that asked for it.
    pub async fn send(&self, email: Email) -> MailStatus {
        let Some(smtp) = &self.smtp else {
            return MailStatus::failed(NOT_CONFIGURED);
        };
        let to = match email.to.parse::<Mailbox>() {
            Ok(m) => m,
            Err(e) => return MailStatus::failed(format!("bad recipient address: {e}")),
        };
        let message = Message::builder()
            .from(smtp.from.clone())
            .to(to)
            .subject(email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text, email.html));
        let message = match message {
            Ok(m) => m,
            Err(e) => return MailStatus::failed(format!("cannot build the email: {e}")),
        };
        match smtp.transport.send(message).await {
            Ok(_) => MailStatus::sent(),
            Err(e) => {
                tracing::warn!(error = %e, "email not sent");
                MailStatus::failed(format!("the mail server did not accept the email: {e}"))
            }
        }
    }
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    inviter: &'a str,
    organization: &'a str,
    workspace: &'a str,
    role: &'a str,
    link: &'a str,
    hours: u32,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    inviter: &'a str,
    organization: &'a str,
    workspace: &'a str,
    role: &'a str,
    link: &'a str,
    hours: u32,
}

#[derive(Template)]
#[template(path = "email/added.txt")]
struct AddedText<'a> {
    name: &'a str,
    inviter: &'a str,
    organization: &'a str,
    workspace: &'a str,
    role: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/added.html")]
struct AddedHtml<'a> {
    name: &'a str,
    inviter: &'a str,
    organization: &'a str,
    workspace: &'a str,
    role: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct ResetText<'a> {
    name: &'a str,
    link: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct ResetHtml<'a> {
    name: &'a str,
    link: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/mfa_reset.txt")]
struct MfaResetText<'a> {
    name: &'a str,
    owner: &'a str,
    organization: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/mfa_reset.html")]
struct MfaResetHtml<'a> {
    name: &'a str,
    owner: &'a str,
    organization: &'a str,
    link: &'a str,
}

fn rendered(r: Result<String, askama::Error>) -> Result<String, flowspace_core::DomainError> {
    r.map_err(|e| flowspace_core::DomainError::Internal(format!("email template: {e}")))
}

/// What an invitation or "added" email says.
pub struct InviteFacts<'a> {
    pub to: &'a str,
    pub inviter: &'a str,
    pub organization: &'a str,
    pub workspace: &'a str,
    pub role: &'a str,
}

/// The invitation email with its sign-up link.
pub fn invitation_email(
    f: &InviteFacts<'_>,
    link: &str,
    hours: u32,
) -> Result<Email, flowspace_core::DomainError> {
    Ok(Email {
        to: f.to.to_string(),
        subject: format!("You are invited to {} on Flowspace", f.workspace),
        text: rendered(
            InvitationText {
                inviter: f.inviter,
                organization: f.organization,
                workspace: f.workspace,
                role: f.role,
                link,
                hours,
            }
            .render(),
        )?,
        html: rendered(
            InvitationHtml {
                inviter: f.inviter,
                organization: f.organization,
                workspace: f.workspace,
                role: f.role,
                link,
                hours,
            }
            .render(),
        )?,
    })
}

/// The notice to an existing user who was added to a workspace.
pub fn added_email(
    f: &InviteFacts<'_>,
    name: &str,
    link: &str,
) -> Result<Email, flowspace_core::DomainError> {
    Ok(Email {
        to: f.to.to_string(),
        subject: format!("You were added to {} on Flowspace", f.workspace),
        text: rendered(
            AddedText {
                name,
                inviter: f.inviter,
                organization: f.organization,
                workspace: f.workspace,
                role: f.role,
                link,
            }
            .render(),
        )?,
        html: rendered(
            AddedHtml {
                name,
                inviter: f.inviter,
                organization: f.organization,
                workspace: f.workspace,
                role: f.role,
                link,
            }
            .render(),
        )?,
    })
}

/// The password-reset email with its link.
pub fn password_reset_email(
    to: &str,
    name: &str,
    link: &str,
    minutes: u32,
) -> Result<Email, flowspace_core::DomainError> {
    Ok(Email {
        to: to.to_string(),
        subject: "Reset your Flowspace password".to_string(),
        text: rendered(
            ResetText {
                name,
                link,
                minutes,
            }
            .render(),
        )?,
        html: rendered(
            ResetHtml {
                name,
                link,
                minutes,
            }
            .render(),
        )?,
    })
}

/// The notice to a member whose two-factor sign-in an owner has reset (SPEC §9).
pub fn mfa_reset_email(
    to: &str,
    name: &str,
    owner: &str,
    organization: &str,
    link: &str,
) -> Result<Email, flowspace_core::DomainError> {
    Ok(Email {
        to: to.to_string(),
        subject: "Your Flowspace two-factor sign-in was reset".to_string(),
        text: rendered(
            MfaResetText {
                name,
                owner,
                organization,
                link,
            }
            .render(),
        )?,
        html: rendered(
            MfaResetHtml {
                name,
                owner,
                organization,
                link,
            }
            .render(),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_secure_values() {
        assert_eq!(
            SmtpSecurity::parse(Some("none"), None).ok(),
            Some(SmtpSecurity::None)
        );
        assert_eq!(
            SmtpSecurity::parse(Some("TRUE"), None).ok(),
            Some(SmtpSecurity::Tls)
        );
        assert_eq!(
            SmtpSecurity::parse(None, Some(465)).ok(),
            Some(SmtpSecurity::Tls)
        );
        assert_eq!(
            SmtpSecurity::parse(None, None).ok(),
            Some(SmtpSecurity::StartTls)
        );
        assert!(SmtpSecurity::parse(Some("maybe"), None).is_err());
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let f = InviteFacts {
            to: "a@example.com",
            inviter: "Ann <admin>",
            organization: "A&B",
            workspace: "W",
            role: "Editor",
        };
        let e = invitation_email(&f, "http://x/register?token=abc", 72);
        let e = e.ok();
        assert!(e.as_ref().is_some_and(|e| e.text.contains("Ann <admin>")));
        assert!(e.as_ref().is_some_and(
            |e| e.html.contains("Ann &#60;admin&#62;") || e.html.contains("Ann &lt;admin&gt;")
        ));
        assert!(e.is_some_and(|e| e.html.contains("http://x/register?token=abc")));
    }
}
