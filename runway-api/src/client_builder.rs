//! Building a [`Client`]: from the environment or step by step.

use std::time::Duration;

use crate::config::{ApiKey, Config, RetryPolicy};
use crate::{Client, RunwayError};

/// The base URL of the hosted API, as given by the API overview.
pub const DEFAULT_BASE_URL: &str = "https://api.runway-ai.ai";
/// The environment variable that holds the API key.
pub const API_KEY_ENV: &str = "RUNWAY_API_KEY";
/// The environment variable that overrides the base URL.
pub const BASE_URL_ENV: &str = "RUNWAY_BASE_URL";
/// The default time one request may take: long, because video work takes time.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `User-Agent` the client sends unless told otherwise.
pub fn default_user_agent() -> String {
    format!("runway-api-rust/{}", env!("CARGO_PKG_VERSION"))
}

/// Whether a proxy may apply: one of the environment variables that reqwest reads
/// for proxies is set (`set` says which are), or the platform has proxy settings
/// of its own (macOS, Windows).
///
/// Without one, the client is built with `no_proxy()`: the same connections,
/// without reqwest matching every request against an empty proxy list.
fn proxy_configured(set: impl Fn(&str) -> bool) -> bool {
    const VARIABLES: [&str; 6] = [
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
    ];
    cfg!(any(target_os = "macos", windows)) || VARIABLES.iter().any(|name| set(name))
}

/// Builds a [`Client`].
///
/// ```
/// # fn main() -> Result<(), runway_api::RunwayError> {
/// let client = runway_api::Client::builder()
///     .base_url("http://127.0.0.1:8080")
///     .api_key("my-key")
///     .max_retries(5)
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<ApiKey>,
    /// Built without a key on purpose ([`ClientBuilder::without_key`]).
    keyless: bool,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    http: Option<reqwest::Client>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            keyless: false,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: default_user_agent(),
            http: None,
        }
    }
}

impl ClientBuilder {
    /// A builder with the defaults: the hosted base URL, no key, 300 s request
    /// timeout, 10 s connect timeout, 3 retries.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder configured from `RUNWAY_API_KEY` (required) and `RUNWAY_BASE_URL`
    /// (optional).
    pub fn from_env() -> Result<Self, RunwayError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RunwayError> {
        let key = lookup(API_KEY_ENV)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                RunwayError::Config(format!(
                    "{API_KEY_ENV} is not set: export {API_KEY_ENV}=<your API key> \
                     (a local runway-server prints its key at start-up)"
                ))
            })?;
        let mut builder = Self::new().api_key(key.trim());
        if let Some(url) = lookup(BASE_URL_ENV).filter(|u| !u.trim().is_empty()) {
            builder = builder.base_url(url.trim());
        }
        Ok(builder)
    }

    /// The base URL, such as `http://127.0.0.1:8080` (a trailing `/` is ignored).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The API key sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// The longest one attempt may take, from connecting to the end of the body.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries after the first attempt (0 turns retries off).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }

    /// The whole retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The `User-Agent` header (default `runway-api-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses the caller's `reqwest::Client` as it is; timeouts and the user agent
    /// set on this builder are then not applied (set them on that client).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds a client with no API key, for a server that needs none (media
    /// downloads, `/healthz`); without this, [`build`](Self::build) asks for a key.
    pub fn without_key(mut self) -> Self {
        self.api_key = None;
        self.keyless = true;
        self
    }

    /// Builds the client. Fails when the base URL is not an absolute http(s) URL,
    /// when no key was given (every `/v1/` call would answer 401; see
    /// [`without_key`](Self::without_key)), or when the key cannot be sent in a
    /// header.
    pub fn build(self) -> Result<Client, RunwayError> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| RunwayError::Config(format!("base URL `{base_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(RunwayError::Config(format!(
                "base URL `{base_url}` must start with http:// or https://"
            )));
        }
        if parsed.scheme() == "https"
            && !cfg!(any(
                feature = "rustls",
                feature = "rustls-ring",
                feature = "native-tls"
            ))
        {
            return Err(RunwayError::Config(format!(
                "base URL `{base_url}` needs TLS: build runway-api with one of its features \
                 `rustls`, `rustls-ring` or `native-tls`"
            )));
        }
        if self.api_key.is_none() && !self.keyless {
            return Err(RunwayError::Config(format!(
                "no API key: call .api_key(...) on the builder, or set {API_KEY_ENV} and use \
                 Client::from_env(); for a server that needs none, call .without_key()"
            )));
        }
        if let Some(key) = &self.api_key
            && key.bearer_header().is_none()
        {
            return Err(RunwayError::Config(
                "the API key holds characters that cannot be sent in a header".to_owned(),
            ));
        }
        let http = match self.http {
            Some(client) => client,
            None => {
                #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
                {
                    // rustls deprecates ring's provider (since 0.23.48) because it has
                    // no post-quantum key exchange: the feature says so, and `rustls`
                    // (aws-lc-rs) is the default. Installing fails only when a provider
                    // is installed already: that one is used.
                    #[allow(deprecated)]
                    let provider = rustls::crypto::ring::default_provider();
                    let _ = provider.install_default();
                }
                let builder = reqwest::Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.connect_timeout)
                    .user_agent(self.user_agent)
                    // Retries follow this client's policy (`retry`), which covers
                    // what reqwest's own layer retries (HTTP/2 refusals) for `GET`
                    // and keyed `POST`s; that layer copies every request in case.
                    .retry(reqwest::retry::never().max_retries_per_request(0));
                let builder = if proxy_configured(|name| std::env::var_os(name).is_some()) {
                    builder
                } else {
                    builder.no_proxy()
                };
                builder
                    .build()
                    .map_err(|e| RunwayError::Config(format!("HTTP client: {e}")))?
            }
        };
        let config = Config {
            api_key: self.api_key,
            retry: self.retry,
        };
        Ok(Client::new_with_client(&base_url, http, config))
    }
}

impl Client {
    /// A [`ClientBuilder`] with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `RUNWAY_API_KEY` (required) and `RUNWAY_BASE_URL`
    /// (default `https://api.runway-ai.ai`).
    pub fn from_env() -> Result<Client, RunwayError> {
        ClientBuilder::from_env()?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use progenitor_client::ClientInfo;

    #[test]
    fn proxies_come_from_the_environment_variables_reqwest_reads() {
        let platform = cfg!(any(target_os = "macos", windows));
        assert_eq!(proxy_configured(|_| false), platform);
        assert_eq!(proxy_configured(|name| name == "PATH"), platform);
        for name in ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"] {
            assert!(proxy_configured(|n| n == name), "{name}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_missing_key_is_a_clear_error() {
        let err = ClientBuilder::from_lookup(vars(&[])).expect_err("no key");
        assert!(
            err.to_string().contains("RUNWAY_API_KEY is not set"),
            "{err}"
        );
        let err = ClientBuilder::from_lookup(vars(&[(API_KEY_ENV, "  ")])).expect_err("blank");
        assert!(err.to_string().contains("RUNWAY_API_KEY"), "{err}");
    }

    #[test]
    fn the_environment_sets_key_and_base_url() {
        let client = ClientBuilder::from_lookup(vars(&[
            (API_KEY_ENV, "abc"),
            (BASE_URL_ENV, "http://127.0.0.1:9/"),
        ]))
        .and_then(ClientBuilder::build)
        .expect("client");
        assert_eq!(client.baseurl(), "http://127.0.0.1:9");
        assert_eq!(client.inner().api_key().map(ApiKey::expose), Some("abc"));
    }

    #[test]
    fn the_base_url_defaults_to_the_hosted_api() {
        let client = ClientBuilder::from_lookup(vars(&[(API_KEY_ENV, "abc")]))
            .and_then(ClientBuilder::build)
            .expect("client");
        assert_eq!(client.baseurl(), DEFAULT_BASE_URL);
    }

    #[test]
    fn a_client_without_a_key_is_refused_unless_asked_for() {
        let err = Client::builder().build().expect_err("no key");
        assert!(err.to_string().contains(".api_key("), "{err}");
        assert!(err.to_string().contains(".without_key()"), "{err}");
        assert!(Client::builder().without_key().build().is_ok());
        assert!(Client::builder().api_key("k").build().is_ok());
    }

    #[test]
    fn a_bad_base_url_is_refused() {
        for url in ["not a url", "ftp://example.com"] {
            let err = Client::builder().base_url(url).build().expect_err(url);
            assert!(matches!(err, RunwayError::Config(_)), "{err}");
        }
    }

    #[test]
    fn the_user_agent_names_the_crate_and_version() {
        assert_eq!(
            default_user_agent(),
            format!("runway-api-rust/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
