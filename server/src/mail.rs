//! Outgoing e-mail over SMTP (`--smtp URL --mail-from ADDRESS`): access-review reminders.
//!
//! One [`Mailer`] per server, built from [`MailConfig`]; `lettre` speaks SMTP with STARTTLS
//! (`smtp://host:587?tls=required`), implicit TLS (`smtps://host:465`) or plain SMTP on a
//! trusted network (`smtp://host:25`), with credentials in the URL's user and password. The URL
//! is a secret: it is never logged or printed ([`MailConfig`]'s `Debug` redacts it), and a
//! failed send is reported without it.

use std::fmt;

use anyhow::{Context, Result};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes out, and from whom.
#[derive(Clone)]
pub struct MailConfig {
    /// The SMTP server's URL, credentials included (a secret).
    pub url: String,
    /// The sender address (`Veilmark <veilmark@brand.example>`).
    pub from: String,
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("url", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

/// An SMTP client with its sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// A mailer for `config`; checks the URL and the sender, connects only when sending.
    ///
    /// # Errors
    /// A URL lettre cannot use (named without its credentials) or a sender that is not an
    /// address.
    pub fn new(config: &MailConfig) -> Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| anyhow::anyhow!("the SMTP URL is not usable: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("--mail-from {:?} is not an e-mail address", config.from))?;
        Ok(Self { transport, from })
    }

    /// Sends a plain-text message to `to`.
    ///
    /// # Errors
    /// A recipient that is not an address, or the SMTP server refusing or not answering.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<()> {
        let to: Mailbox = to
            .parse()
            .with_context(|| format!("{to:?} is not an e-mail address"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.clone())
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .context("cannot build the message")?;
        self.transport
            .send(message)
            .await
            .with_context(|| format!("the SMTP server did not take the message to {to}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_url() {
        let c = MailConfig {
            url: "smtp://user:hunter2@mail.example:587?tls=required".into(),
            from: "veilmark@brand.example".into(),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(Mailer::new(&c).is_ok());
        let bad = MailConfig {
            url: "gopher://x".into(),
            from: "veilmark@brand.example".into(),
        };
        let err = format!("{:#}", Mailer::new(&bad).unwrap_err());
        assert!(err.contains("not usable"), "{err}");
    }
}
