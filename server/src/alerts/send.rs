//! Sending one delivery through its channel: a signed webhook, a Slack-style
//! incoming webhook, or an email over the platform's SMTP server.

use super::message;
use app::api::alerts::{Channel, ChannelKind};
use hmac::Mac;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use std::time::Duration;

/// The header carrying a webhook's signature: `sha256=<hex>` of
/// HMAC-SHA256 over the raw body, keyed with the tenant's signing secret.
pub const SIGNATURE_HEADER: &str = "X-Trellis-Signature-256";
/// The header carrying the delivery's id (the same on every attempt).
pub const DELIVERY_HEADER: &str = "X-Trellis-Delivery";
/// The header carrying what the alert is about (`failure`, …, `test`).
pub const EVENT_HEADER: &str = "X-Trellis-Event";

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failed {
    pub error: String,
    pub permanent: bool,
}

impl Failed {
    fn again(error: impl Into<String>) -> Self {
        Failed {
            error: error.into(),
            permanent: false,
        }
    }

    fn never(error: impl Into<String>) -> Self {
        Failed {
            error: error.into(),
            permanent: true,
        }
    }
}

/// The platform's SMTP server and sender.
pub struct Mail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mail {
    /// From `TRELLIS_SMTP_URL` (`smtp://host:port` in the clear,
    /// `smtp://host:587?tls=required` for STARTTLS, `smtps://user:password@host`
    /// for TLS) and `TRELLIS_SMTP_FROM` (`Trellis <alerts@example.com>`).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Mail> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("TRELLIS_SMTP_URL: {e}"))?
            .timeout(Some(ATTEMPT_TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("TRELLIS_SMTP_FROM `{from}`: {e}"))?;
        Ok(Mail { transport, from })
    }
}

/// The addresses of an email channel's target; the first one that is not
/// an address, as an error.
pub fn addresses(target: &str) -> Result<Vec<Mailbox>, String> {
    let all: Vec<&str> = target
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    if all.is_empty() {
        return Err("at least one email address".into());
    }
    all.into_iter()
        .map(|a| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("`{a}` is not an email address: {e}"))
        })
        .collect()
}

/// The bytes a webhook receives for delivery `id`: the stored document with
/// the delivery's id.
pub fn webhook_body(payload: &Value, id: &str) -> Vec<u8> {
    let mut body = payload.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("delivery".into(), Value::String(id.to_owned()));
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a sender needs besides the delivery.
pub struct Senders<'a> {
    pub http: &'a reqwest::Client,
    pub mail: Option<&'a Mail>,
    /// The tenant's signing secret, opened.
    pub secret: Option<&'a str>,
}

/// Sends delivery `id` (its `payload`) through `channel`.
pub async fn send(
    senders: &Senders<'_>,
    channel: &Channel,
    id: &str,
    payload: &Value,
) -> Result<(), Failed> {
    let event = payload["trigger"].as_str().unwrap_or("test");
    match channel.kind {
        ChannelKind::Webhook => {
            let body = webhook_body(payload, id);
            let mut request = senders
                .http
                .post(&channel.target)
                .header("content-type", "application/json")
                .header(DELIVERY_HEADER, id)
                .header(EVENT_HEADER, event);
            match senders.secret {
                Some(secret) => {
                    request = request.header(SIGNATURE_HEADER, signature(secret, &body))
                }
                None => return Err(Failed::never("the tenant has no signing secret")),
            }
            post(request.body(body)).await
        }
        ChannelKind::Slack => {
            let body = serde_json::to_vec(&message::slack(payload)).unwrap_or_default();
            let request = senders
                .http
                .post(&channel.target)
                .header("content-type", "application/json")
                .body(body);
            post(request).await
        }
        ChannelKind::Email => {
            let Some(mail) = senders.mail else {
                return Err(Failed::never(
                    "email is not set up on this platform (TRELLIS_SMTP_URL)",
                ));
            };
            let to = addresses(&channel.target).map_err(Failed::never)?;
            let (subject, plain, html) = message::email(payload);
            let mut builder = lettre::Message::builder()
                .from(mail.from.clone())
                .subject(subject)
                .header(lettre::message::header::ContentType::TEXT_PLAIN);
            for address in to {
                builder = builder.to(address);
            }
            let email = builder
                .multipart(MultiPart::alternative_plain_html(plain, html))
                .map_err(|e| Failed::never(format!("composing the email: {e}")))?;
            match mail.transport.send(email).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(Failed::never(format!("SMTP: {e}"))),
                Err(e) => Err(Failed::again(format!("SMTP: {e}"))),
            }
        }
    }
}

/// Posts `request`: a 2xx answer delivers; 408, 429 and 5xx answers and
/// transport errors are tried again; other answers are final.
async fn post(request: reqwest::RequestBuilder) -> Result<(), Failed> {
    let response = request.send().await.map_err(|e| {
        let refused = crate::outbound::refusal_in(&e).map(|r| r.to_string());
        match refused {
            Some(why) => Failed::never(why),
            None => Failed::again(format!("{:#}", anyhow::Error::new(e))),
        }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    let error = format!("HTTP {status}: {}", text.trim());
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(Failed::again(error))
    } else {
        Err(Failed::never(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_the_body_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn an_email_target_is_a_list_of_addresses() {
        assert_eq!(addresses("a@example.com, b@example.com").unwrap().len(), 2);
        assert!(addresses(" , ").is_err());
        assert!(addresses("a@example.com, nope")
            .unwrap_err()
            .contains("`nope`"));
    }
}
