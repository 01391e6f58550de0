//! Fetching media from other hosts, guarded against server-side request forgery:
//! every resolved address of every hop (redirects included) is checked, and
//! loopback, private, link-local, shared, multicast and metadata addresses are
//! refused unless the operator allows them (`--allow-private-fetch`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::domain::Error;

/// The most redirects one fetch follows.
pub const MAX_REDIRECTS: usize = 5;

/// Whether an IPv4 address must never be fetched from.
fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// Whether an address must never be fetched from: loopback, private, link-local
/// (which holds the cloud metadata address 169.254.169.254), shared, multicast,
/// reserved, and IPv6 unique-local and link-local, including IPv4 addresses
/// embedded in IPv6 (mapped, compatible, NAT64, 6to4).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_v4(v4);
            }
            let seg = v6.segments();
            let embedded_v4 = |hi: u16, lo: u16| {
                Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
            if seg[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_unspecified() && !v6.is_loopback() {
                return is_forbidden_v4(embedded_v4(seg[6], seg[7]));
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_forbidden_v4(embedded_v4(seg[6], seg[7]));
            }
            if seg[0] == 0x2002 {
                return is_forbidden_v4(embedded_v4(seg[1], seg[2]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS metadata
        }
    }
}

/// Turns a host name into addresses; the system resolver, or a test's.
pub type LookupFn =
    Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> + Send + Sync>;

/// The system resolver.
pub fn system_lookup() -> LookupFn {
    Arc::new(|host: String| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .collect::<Vec<_>>())
        })
    })
}

/// Decides which addresses are refused: `true` means never connect.
pub type AddressPolicy = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// The server's policy: [`is_forbidden`] addresses are refused, unless the operator
/// allows private addresses.
pub fn default_policy(allow_private: bool) -> AddressPolicy {
    Arc::new(move |ip| !allow_private && is_forbidden(ip))
}

/// A DNS resolver for reqwest that drops refused addresses and fails when none is
/// left, so no connection to one is ever made.
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: LookupFn,
    refused: AddressPolicy,
}

impl GuardedResolver {
    /// A resolver over `lookup` that applies `refused`.
    pub fn new(lookup: LookupFn, refused: AddressPolicy) -> Self {
        Self { lookup, refused }
    }

    /// The addresses of `host` that may be connected to; an error when there are none.
    pub async fn allowed_addresses(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        let all = (self.lookup)(host.to_owned()).await?;
        let allowed: Vec<SocketAddr> = all
            .into_iter()
            .filter(|a| !(self.refused)(a.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(std::io::Error::other(format!(
                "{host} resolves only to addresses the server may not fetch from"
            )));
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.allowed_addresses(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a URL may not be fetched, decided before any connection: a scheme other than
/// http(s), or an IP-literal host that is forbidden. Host names are checked by the
/// resolver when they are looked up.
pub fn refuse_reason(url: &Url, refused: &dyn Fn(IpAddr) -> bool) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!(
            "the URL scheme `{}` is not supported; use http(s) or data:",
            url.scheme()
        ));
    }
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    refused(ip).then(|| format!("the address {ip} is loopback, private, link-local or reserved"))
}

/// Why a remote media URL gave no media.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The address is one the server must not reach (private, loopback, ...).
    #[error("cannot be fetched: {0}")]
    Refused(String),
    /// The host could not be reached or read.
    #[error("could not be fetched: {0}")]
    Failed(String),
    /// The host answered with a failure status.
    #[error("could not be fetched: the host answered {0}")]
    Status(reqwest::StatusCode),
    /// The media is over the size cap.
    #[error("is over the limit of {0} bytes")]
    TooLarge(usize),
    /// The bytes could not be written where they go (the server's disk).
    #[error("could not be stored: {0}")]
    Write(#[source] std::io::Error),
}

/// Fetches media from other hosts with a size cap, a timeout and bounded redirects.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    refused: AddressPolicy,
    max_bytes: usize,
}

impl Fetcher {
    /// A fetcher resolving through `lookup` and refusing what `refused` says, on the
    /// first hop and on every redirect.
    pub fn new(
        lookup: LookupFn,
        refused: AddressPolicy,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let redirect_policy = refused.clone();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match refuse_reason(attempt.url(), redirect_policy.as_ref()) {
                Some(reason) => attempt.error(format!("redirect refused: {reason}")),
                None => attempt.follow(),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::new(lookup, refused.clone()))
            .redirect(redirect)
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("runway-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            refused,
            max_bytes,
        })
    }

    /// Fetches `url` into memory (images: small and decoded whole anyway).
    pub async fn fetch(&self, url: &Url) -> Result<Bytes, FetchError> {
        let mut body = Vec::new();
        self.fetch_into(url, &mut body).await?;
        Ok(body.into())
    }

    /// Fetches `url` into `sink` as it arrives (videos go to a file, never whole
    /// into memory).
    pub async fn fetch_into<W: AsyncWrite + Unpin>(
        &self,
        url: &Url,
        sink: &mut W,
    ) -> Result<(), FetchError> {
        if let Some(reason) = refuse_reason(url, self.refused.as_ref()) {
            return Err(FetchError::Refused(reason));
        }
        let response = self.client.get(url.clone()).send().await.map_err(|e| {
            tracing::info!(error = %e, "remote media fetch failed");
            FetchError::Failed(describe(&e))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let mut written = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Failed(describe(&e)))?;
            written += chunk.len() as u64;
            if written > self.max_bytes as u64 {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            sink.write_all(&chunk).await.map_err(FetchError::Write)?;
        }
        sink.flush().await.map_err(FetchError::Write)
    }
}

/// The innermost cause of a reqwest error, for people.
fn describe(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    if err.is_timeout() {
        "it took too long".to_owned()
    } else {
        source.to_string()
    }
}

impl FetchError {
    /// The error of a remote media URL in `param` that gave no media: 422
    /// `media_unreachable`, 413 when too large, 507 when the scratch disk is full.
    pub fn for_input(self, param: &str) -> Error {
        match self {
            FetchError::TooLarge(_) => {
                Error::too_large(format!("the media at {param} {self}")).with_param(param)
            }
            FetchError::Write(err) => Error::io(err),
            _ => Error::unreachable(param, format!("{param} {self}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forbidden_addresses() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fd00:ec2::254",
        ] {
            assert!(is_forbidden(ip(s)), "{s} must be forbidden");
        }
        for s in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn odd_spellings_of_loopback_are_refused() {
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:7f00:1]/",
            "http://[::1]:8080/x",
        ] {
            let parsed = Url::parse(url).expect("url");
            assert!(
                refuse_reason(&parsed, default_policy(false).as_ref()).is_some(),
                "{url} must be refused"
            );
            assert!(
                refuse_reason(&parsed, default_policy(true).as_ref()).is_none(),
                "{url} allowed by the flag"
            );
        }
    }

    #[test]
    fn other_schemes_are_refused() {
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/a",
            "gopher://example.com/",
        ] {
            let parsed = Url::parse(url).expect("url");
            assert!(
                refuse_reason(&parsed, default_policy(true).as_ref()).is_some(),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn names_resolving_to_forbidden_addresses_are_refused() {
        let lookup: LookupFn = Arc::new(|host: String| {
            Box::pin(async move {
                let addrs = match host.as_str() {
                    "metadata.test" => vec!["169.254.169.254:0".parse().expect("addr")],
                    "mixed.test" => vec![
                        "10.1.1.1:0".parse().expect("addr"),
                        "93.184.216.34:0".parse().expect("addr"),
                    ],
                    _ => vec!["127.0.0.1:0".parse().expect("addr")],
                };
                Ok(addrs)
            })
        });
        let resolver = GuardedResolver::new(lookup, default_policy(false));
        assert!(resolver.allowed_addresses("metadata.test").await.is_err());
        assert!(resolver.allowed_addresses("localhost").await.is_err());
        let mixed = resolver
            .allowed_addresses("mixed.test")
            .await
            .expect("one allowed");
        assert_eq!(mixed, vec!["93.184.216.34:0".parse().expect("addr")]);
    }

    /// Accepts one connection on `listener` (if any comes) and answers `response`.
    async fn serve_once(listener: tokio::net::TcpListener, response: String) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let accepted = tokio::time::timeout(Duration::from_secs(3), listener.accept()).await;
        let Ok(Ok((mut socket, _))) = accepted else {
            return false;
        };
        let mut buf = [0u8; 2048];
        let _ = socket.read(&mut buf).await;
        let _ = socket.write_all(response.as_bytes()).await;
        true
    }

    #[tokio::test]
    async fn a_redirect_to_a_refused_address_is_not_followed() {
        // All on loopback: the policy allows 127.0.0.1 only, so the redirect to
        // 127.0.0.2 stands for a redirect to a private address.
        let first = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let target = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind");
        let target_addr = target.local_addr().expect("addr");
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: http://{target_addr}/secret\r\ncontent-length: 0\r\n\r\n"
        );
        let first_url = Url::parse(&format!(
            "http://{}/pic.png",
            first.local_addr().expect("addr")
        ))
        .expect("url");
        let first_served = tokio::spawn(serve_once(first, redirect));
        let target_hit = tokio::spawn(serve_once(target, "HTTP/1.1 200 OK\r\n\r\n".into()));

        let only_first: AddressPolicy = Arc::new(|ip| ip != IpAddr::from([127, 0, 0, 1]));
        let fetcher = Fetcher::new(system_lookup(), only_first, 1024, Duration::from_secs(5))
            .expect("fetcher");
        let err = fetcher
            .fetch(&first_url)
            .await
            .expect_err("redirect refused");
        assert!(matches!(err, FetchError::Failed(_)), "{err}");
        assert!(
            first_served.await.expect("join"),
            "the allowed first hop was fetched"
        );
        assert!(
            !target_hit.await.expect("join"),
            "the refused address was never connected to"
        );
    }
}
