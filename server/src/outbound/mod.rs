//! Outbound HTTP to addresses tenants choose (a data step's URL, a
//! connection's AWS endpoint). Internal addresses are refused unless the
//! platform allows them (`TRELLIS_OUTBOUND_ALLOW`).
//!
//! The clients resolve a host once, through [`Guard::resolve`], which answers
//! only addresses it checked: the connection goes to a checked address, with
//! no second lookup that a rebinding DNS server could answer differently.
//! Addresses written into a URL skip resolution, so they are checked before
//! the request and again at every redirect.

mod class;

pub use class::{classify, Class};
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The platform setting that allows internal addresses.
pub const SETTING: &str = "TRELLIS_OUTBOUND_ALLOW";

/// Most redirects a request follows.
pub const MAX_REDIRECTS: usize = 5;

/// Internal address ranges and host names the platform allows, e.g.
/// `127.0.0.1/32,10.0.0.0/8,internal.example`. A host name is allowed
/// whatever it resolves to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow {
    nets: Vec<IpNet>,
    hosts: Vec<String>,
}

impl Allow {
    fn contains(&self, address: IpAddr) -> bool {
        let canonical = address.to_canonical();
        self.nets
            .iter()
            .any(|n| n.contains(&address) || n.contains(&canonical))
    }

    fn names(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.contains(&host)
    }
}

fn normal_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn is_host_name(text: &str) -> bool {
    let text = text.trim_end_matches('.');
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && !numeric_looking(text)
}

/// Whether a host name ends in a number: URL parsers read such a host as an
/// IPv4 address (`2130706433`, `0x7f.1`), and so does the system resolver. The
/// URL parser has already turned the ones it understands into addresses; any
/// left are spellings the two might read differently, so they are refused.
fn numeric_looking(host: &str) -> bool {
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

impl FromStr for Allow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut allow = Allow::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                allow.nets.push(net.trunc());
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                allow.nets.push(IpNet::from(address));
            } else if is_host_name(entry) {
                allow.hosts.push(normal_host(entry));
            } else {
                return Err(format!(
                    "`{entry}` is neither an address range (`10.0.0.0/8`), an address nor a host name"
                ));
            }
        }
        Ok(allow)
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets = self.nets.iter().map(ToString::to_string);
        let entries: Vec<String> = nets.chain(self.hosts.iter().cloned()).collect();
        f.write_str(&entries.join(","))
    }
}

/// Why a URL may not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An internal address, written in the URL or resolved from its host.
    #[error("refused: {}; allow it with {SETTING}", address_phrase(host.as_deref(), *address, *class))]
    Address {
        host: Option<String>,
        address: IpAddr,
        class: Class,
    },
    #[error("refused: `{0}` reads as a numeric address in an unusual spelling; write the address in dotted form")]
    Spelling(String),
    #[error("refused: `{0}` is not an http(s) URL with a host")]
    NotHttp(String),
}

fn address_phrase(host: Option<&str>, address: IpAddr, class: Class) -> String {
    let what = class::describe(address, class);
    match host {
        Some(host) => format!("`{host}` resolves to {address}, {what}"),
        None => format!("{address} is {what}"),
    }
}

/// The refusal somewhere in `error`'s chain of causes (an HTTP client wraps
/// what its resolver or redirect policy answered).
pub fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        cause = e.source();
    }
    None
}

/// A host that does not resolve.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve `{host}`: {source}")]
pub struct Unresolved {
    host: String,
    source: std::io::Error,
}

/// Checks addresses against the internal ranges and the platform's allow list.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: Arc<Allow>,
}

impl Guard {
    pub fn new(allow: Allow) -> Self {
        Guard {
            allow: Arc::new(allow),
        }
    }

    pub fn allow(&self) -> &Allow {
        &self.allow
    }

    /// Whether `address` may be reached; `host` names it when a lookup found it.
    pub fn check_address(&self, address: IpAddr, host: Option<&str>) -> Result<(), Refusal> {
        if self.allow.contains(address) {
            return Ok(());
        }
        match classify(address) {
            None => Ok(()),
            Some(class) => Err(Refusal::Address {
                host: host.map(str::to_owned),
                address,
                class,
            }),
        }
    }

    /// Checks what `url` shows without a lookup: its scheme, an address
    /// written into it, a numeric host name. Host names are checked when
    /// [`Guard::resolve`] resolves them.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::NotHttp(url.to_string()));
        }
        match url.host() {
            Some(url::Host::Ipv4(address)) => self.check_address(address.into(), None),
            Some(url::Host::Ipv6(address)) => self.check_address(address.into(), None),
            Some(url::Host::Domain(name)) if numeric_looking(name) => {
                Err(Refusal::Spelling(name.to_owned()))
            }
            Some(url::Host::Domain(_)) => Ok(()),
            None => Err(Refusal::NotHttp(url.to_string())),
        }
    }

    /// Resolves `host` once; answers its addresses when every one of them may
    /// be reached (or the host is allowed by name).
    pub async fn resolve(
        &self,
        host: &str,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        if let Ok(address) = host.parse::<IpAddr>() {
            self.check_address(address, None)?;
            return Ok(vec![address]);
        }
        if numeric_looking(host) {
            return Err(Refusal::Spelling(host.to_owned()).into());
        }
        let mut addresses: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|source| Unresolved {
                host: host.to_owned(),
                source,
            })?
            .map(|a| a.ip())
            .collect();
        addresses.dedup();
        if !self.allow.names(host) {
            for address in &addresses {
                self.check_address(*address, Some(host))?;
            }
        }
        Ok(addresses)
    }

    /// Checks `url` fully, resolving its host: for a setting being saved. A
    /// host that does not resolve now passes (it is checked again at use).
    pub async fn check_reachable(&self, url: &str) -> Result<(), Refusal> {
        let parsed = reqwest::Url::parse(url).map_err(|_| Refusal::NotHttp(url.to_owned()))?;
        self.check_url(&parsed)?;
        if let Some(url::Host::Domain(name)) = parsed.host() {
            if let Err(e) = self.resolve(name).await {
                if let Some(refusal) = refusal_in(e.as_ref()) {
                    return Err(refusal.clone());
                }
            }
        }
        Ok(())
    }

    /// The HTTP client for tenant-chosen URLs: it connects only to addresses
    /// this guard resolved and checked, checks every redirect (at most
    /// [`MAX_REDIRECTS`]) and ignores proxy settings, which would resolve
    /// hosts out of its sight. Check the first URL with [`Guard::check_url`].
    pub fn http_client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        let guard = self.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .no_proxy()
            .dns_resolver(Arc::new(self.clone()))
            .redirect(policy)
            .user_agent(concat!("trellis/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// An HTTP client for the AWS SDK that connects only to addresses this
    /// guard resolved and checked (the SDK follows no redirects).
    pub fn aws_http_client(&self) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
        use aws_smithy_http_client::tls;
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_with_resolver(AwsResolver(self.clone()))
    }
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let addresses = guard.resolve(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|a| SocketAddr::new(a, 0)));
            Ok(addrs)
        })
    }
}

#[derive(Debug, Clone)]
struct AwsResolver(Guard);

impl aws_smithy_runtime_api::client::dns::ResolveDns for AwsResolver {
    fn resolve_dns<'a>(
        &'a self,
        name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDnsError};
        DnsFuture::new(async move { self.0.resolve(name).await.map_err(ResolveDnsError::new) })
    }
}

#[cfg(test)]
mod tests;
