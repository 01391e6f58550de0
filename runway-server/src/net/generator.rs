//! Image generation by the model server the operator runs (`--image-generator`),
//! in one of the two protocols self-hosted image generators speak:
//!
//! - `openai+http(s)://HOST[:PORT]/BASE`: OpenAI's Images API, `POST
//!   BASE/images/generations` with `{prompt, n: 1, size: "WxH", response_format:
//!   "b64_json"}` (plus `model` and `seed` when known), answered `{created, data:
//!   [{b64_json} | {url}]}` (LocalAI, stable-diffusion.cpp's `sd-server`);
//! - `sdapi+http(s)://HOST[:PORT]`: AUTOMATIC1111's `POST /sdapi/v1/txt2img` with
//!   `{prompt, negative_prompt, width, height, seed, batch_size: 1}` (`seed` -1
//!   for none), answered `{images: [base64 PNG], parameters, info}`
//!   (AUTOMATIC1111, Forge, `sd-server`).
//!
//! The URL comes only from the operator, never from a request, so the guard of
//! [`super::fetch`] does not apply (a model server on loopback is the usual
//! case); a picture answered by URL is fetched only from the generator's own
//! origin. Answers are read up to a size cap; the picture's bytes go back as
//! they came (the caller decodes and checks them). Failures are
//! `upstream_error` (the upstream's own message, trimmed, when it gave one) and
//! `upstream_timeout`; the key is sent, never logged nor shown.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::{Error, Result};

/// The longest piece of an upstream's error message passed on.
const MESSAGE_CHARS: usize = 300;

/// How much of a failure's body is read (its message is at the start).
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// Base64 as image servers write it: standard alphabet, padded or not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The protocol a model server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI's Images API.
    OpenAi,
    /// AUTOMATIC1111's web UI API.
    SdApi,
}

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    /// The text, with the style already in it.
    pub prompt: &'a str,
    /// What the picture should not show (AUTOMATIC1111's protocol only).
    pub negative_prompt: Option<&'a str>,
    /// The asked width in pixels.
    pub width: u32,
    /// The asked height in pixels.
    pub height: u32,
    /// The model's seed, when the request gave one.
    pub seed: Option<u32>,
}

/// A model server that generates images, as the operator configured it.
#[derive(Clone)]
pub struct ImageGenerator {
    protocol: Protocol,
    endpoint: Url,
    model: Option<String>,
    key: Option<String>,
    timeout: Duration,
    max_bytes: usize,
    http: reqwest::Client,
}

impl std::fmt::Debug for ImageGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageGenerator")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// The protocol and the endpoint that `url` names; a sentence for the operator
/// when it names none (never the URL itself, which may hold a password).
pub fn parse_url(url: &str) -> Result<(Protocol, Url), String> {
    let usage = "use openai+http(s)://HOST[:PORT]/BASE or sdapi+http(s)://HOST[:PORT]";
    let (protocol, rest) = match url.split_once('+') {
        Some(("openai", rest)) => (Protocol::OpenAi, rest),
        Some(("sdapi", rest)) => (Protocol::SdApi, rest),
        _ => {
            return Err(format!(
                "the URL does not start with a protocol the server speaks: {usage}"
            ));
        }
    };
    let base = Url::parse(rest).map_err(|e| format!("the URL cannot be read ({e}): {usage}"))?;
    if !base.username().is_empty() || base.password().is_some() {
        return Err(
            "give the image generator's key with --image-generator-key, not in the URL".into(),
        );
    }
    if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
        return Err(format!(
            "the URL is not an http(s) URL with a host: {usage}"
        ));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(format!("the URL has a query or a fragment: {usage}"));
    }
    let path = base.path().trim_end_matches('/');
    let path = match protocol {
        Protocol::OpenAi => format!("{path}/images/generations"),
        Protocol::SdApi => format!("{path}/sdapi/v1/txt2img"),
    };
    let mut endpoint = base;
    endpoint.set_path(&path);
    Ok((protocol, endpoint))
}

/// The picture in an OpenAI answer.
#[derive(Deserialize)]
struct OpenAiPicture {
    b64_json: Option<String>,
    url: Option<String>,
}

/// An OpenAI answer.
#[derive(Deserialize)]
struct OpenAiAnswer {
    data: Vec<OpenAiPicture>,
}

/// An AUTOMATIC1111 answer.
#[derive(Deserialize)]
struct SdApiAnswer {
    images: Vec<String>,
}

impl ImageGenerator {
    /// The generator `url` names (see [`parse_url`]), asking for `model` with
    /// `key`, giving up after `timeout`, reading answers of up to `max_bytes` of
    /// picture.
    pub fn new(
        url: &str,
        model: Option<String>,
        key: Option<String>,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, String> {
        let (protocol, endpoint) = parse_url(url)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("runway-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            protocol,
            endpoint,
            model,
            key,
            timeout,
            max_bytes,
            http,
        })
    }

    /// Where pictures are asked for, and how (for the start-up log).
    pub fn describe(&self) -> String {
        let protocol = match self.protocol {
            Protocol::OpenAi => "OpenAI Images API",
            Protocol::SdApi => "AUTOMATIC1111 txt2img",
        };
        match &self.model {
            Some(model) => format!("{protocol} at {} (model {model})", self.endpoint),
            None => format!("{protocol} at {}", self.endpoint),
        }
    }

    /// The body of the request for `prompt`.
    pub fn request_body(&self, prompt: &Prompt<'_>) -> Value {
        match self.protocol {
            Protocol::OpenAi => {
                let mut body = json!({
                    "prompt": prompt.prompt,
                    "n": 1,
                    "size": format!("{}x{}", prompt.width, prompt.height),
                    "response_format": "b64_json",
                });
                if let Some(model) = &self.model {
                    body["model"] = json!(model);
                }
                if let Some(seed) = prompt.seed {
                    body["seed"] = json!(seed);
                }
                body
            }
            Protocol::SdApi => json!({
                "prompt": prompt.prompt,
                "negative_prompt": prompt.negative_prompt.unwrap_or_default(),
                "width": prompt.width,
                "height": prompt.height,
                "seed": prompt.seed.map_or(-1, i64::from),
                "batch_size": 1,
            }),
        }
    }

    /// The picture the model server draws for `prompt`: its encoded bytes (a
    /// PNG, usually), not yet decoded nor checked. The whole exchange (the
    /// answer, and a picture answered by URL) is bounded by the timeout.
    pub async fn generate(&self, prompt: &Prompt<'_>) -> Result<Bytes> {
        tokio::time::timeout(self.timeout, self.exchange(prompt))
            .await
            .unwrap_or_else(|_| Err(Error::upstream_timeout(self.timeout.as_secs())))
    }

    async fn exchange(&self, prompt: &Prompt<'_>) -> Result<Bytes> {
        let request = self
            .authorized(self.http.post(self.endpoint.clone()))
            .json(&self.request_body(prompt));
        let answer = self.read(request).await?;
        // Parsing and decoding tens of megabytes is work for the blocking pool.
        let protocol = self.protocol;
        let picture = tokio::task::spawn_blocking(move || picture_in(protocol, answer))
            .await
            .map_err(Error::internal)??;
        match picture {
            Picture::Bytes(bytes) => Ok(bytes),
            Picture::Url(url) => self.fetch_picture(&url).await,
        }
    }

    /// A picture the generator answered by URL: fetched only from its own origin.
    async fn fetch_picture(&self, url: &str) -> Result<Bytes> {
        let url = self.endpoint.join(url).map_err(|_| {
            Error::upstream(
                "the image generator answered a picture URL that is not one",
                None,
            )
        })?;
        if url.origin() != self.endpoint.origin() {
            return Err(Error::upstream(
                "the image generator answered a picture URL of another host; only its own are fetched",
                Some(format!("picture URL {url}")),
            ));
        }
        self.read(self.authorized(self.http.get(url))).await
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends `request` and reads a successful answer's body, up to the cap (base64
    /// makes a picture a third larger); of a failure, its first
    /// [`ERROR_BODY_BYTES`].
    async fn read(&self, request: reqwest::RequestBuilder) -> Result<Bytes> {
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let cap = if status.is_success() {
            (self.max_bytes / 3)
                .saturating_mul(4)
                .saturating_add(64 * 1024)
        } else {
            ERROR_BODY_BYTES
        };
        let expected = response.content_length().unwrap_or(0);
        let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(cap));
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport(&e))?;
            if body.len() + chunk.len() > cap {
                if !status.is_success() {
                    let room = cap - body.len();
                    body.extend_from_slice(&chunk[..room]);
                    break; // an error page: its beginning says enough
                }
                return Err(Error::upstream(
                    format!("the image generator's answer is over the limit of {cap} bytes"),
                    None,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(failed(status, &body));
        }
        Ok(body.into())
    }

    /// The error of a request that got no answer: 504 when it took too long.
    fn transport(&self, err: &reqwest::Error) -> Error {
        if err.is_timeout() && !err.is_connect() {
            return Error::upstream_timeout(self.timeout.as_secs());
        }
        let mut cause = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(next) = source {
            cause = format!("{cause}: {next}");
            source = next.source();
        }
        Error::upstream(
            "the image generator could not be reached; nothing was stored",
            Some(cause),
        )
    }
}

/// What an answer holds: the picture, or where to fetch it.
enum Picture {
    Bytes(Bytes),
    Url(String),
}

/// The picture in a successful `answer` of `protocol`.
fn picture_in(protocol: Protocol, answer: Bytes) -> Result<Picture> {
    let encoded = match protocol {
        Protocol::OpenAi => {
            let parsed: OpenAiAnswer = parse(&answer)?;
            drop(answer);
            let picture = parsed.data.into_iter().next().ok_or_else(no_picture)?;
            match (picture.b64_json, picture.url) {
                (Some(b64), _) => b64,
                (None, Some(url)) => return Ok(Picture::Url(url)),
                (None, None) => return Err(no_picture()),
            }
        }
        Protocol::SdApi => {
            let parsed: SdApiAnswer = parse(&answer)?;
            drop(answer);
            parsed.images.into_iter().next().ok_or_else(no_picture)?
        }
    };
    decode_base64(&encoded).map(Picture::Bytes)
}

/// An answer's JSON as `T`, or 502 (saying why on one short line: serde's
/// message may quote the answer).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let why = one_line(&e.to_string()).unwrap_or_default();
        Error::upstream(
            format!("the image generator's answer is not what its protocol says: {why}"),
            None,
        )
    })
}

fn no_picture() -> Error {
    Error::upstream("the image generator answered no picture", None)
}

/// A picture's base64 (bare, or a `data:` URI's), or 502.
fn decode_base64(text: &str) -> Result<Bytes> {
    let payload = match text.split_once(";base64,") {
        Some((head, payload)) if head.starts_with("data:") => payload,
        _ => text,
    };
    let decoded = if payload.bytes().any(|b| b.is_ascii_whitespace()) {
        let packed: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
        BASE64.decode(packed.as_bytes())
    } else {
        BASE64.decode(payload.as_bytes())
    };
    decoded.map(Bytes::from).map_err(|e| {
        Error::upstream(
            format!("the image generator's picture is not valid base64: {e}"),
            None,
        )
    })
}

/// The error of a failure status, with the upstream's own message, trimmed.
fn failed(status: StatusCode, body: &[u8]) -> Error {
    let message = upstream_message(body);
    let said = match &message {
        Some(message) => format!("the image generator answered {status}: {message}"),
        None => format!("the image generator answered {status}"),
    };
    Error::upstream(said, None)
}

/// What an error body says: the message field of the usual JSON shapes
/// (`{"error": {"message"}}`, `{"error": "..."}`, `{"detail": "..."}`,
/// `{"message": "..."}`), or the text itself; see [`one_line`].
fn upstream_message(body: &[u8]) -> Option<String> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match &json {
        Some(value) => [
            &value["error"]["message"],
            &value["error"],
            &value["detail"],
            &value["message"],
        ]
        .into_iter()
        .find_map(Value::as_str)
        .and_then(one_line),
        None => one_line(&String::from_utf8_lossy(body)),
    }
}

/// `text` on one line, without control characters, at most [`MESSAGE_CHARS`]
/// characters; `None` when nothing is left.
fn one_line(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let line: String = words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if line.is_empty() {
        return None;
    }
    if line.chars().count() <= MESSAGE_CHARS {
        return Some(line);
    }
    let cut: String = line.chars().take(MESSAGE_CHARS).collect();
    Some(format!("{cut}..."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(url: &str, model: Option<&str>) -> ImageGenerator {
        ImageGenerator::new(
            url,
            model.map(str::to_owned),
            Some("sk-secret".into()),
            Duration::from_secs(5),
            1 << 20,
        )
        .expect("a generator")
    }

    #[test]
    fn the_scheme_names_the_protocol_and_the_endpoint() {
        let (protocol, endpoint) = parse_url("openai+http://127.0.0.1:8080/v1").expect("parses");
        assert_eq!(protocol, Protocol::OpenAi);
        assert_eq!(
            endpoint.as_str(),
            "http://127.0.0.1:8080/v1/images/generations"
        );
        let (_, endpoint) = parse_url("openai+https://models.internal/v1/").expect("parses");
        assert_eq!(
            endpoint.as_str(),
            "https://models.internal/v1/images/generations"
        );
        let (protocol, endpoint) = parse_url("sdapi+http://gpu-box:7860").expect("parses");
        assert_eq!(protocol, Protocol::SdApi);
        assert_eq!(endpoint.as_str(), "http://gpu-box:7860/sdapi/v1/txt2img");
        for wrong in [
            "http://127.0.0.1:8080/v1",
            "comfy+http://127.0.0.1:8188",
            "openai+ftp://127.0.0.1/v1",
            "openai+http://user:pass@127.0.0.1/v1",
            "sdapi+http://127.0.0.1:7860/?x=1",
            "openai+not a url",
        ] {
            assert!(parse_url(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn bodies_follow_each_protocol() {
        let prompt = Prompt {
            prompt: "a red fox in the snow",
            negative_prompt: Some("text"),
            width: 320,
            height: 200,
            seed: Some(42),
        };
        let openai = generator("openai+http://127.0.0.1:1/v1", Some("sd-1.5"));
        assert_eq!(
            openai.request_body(&prompt),
            json!({"prompt": "a red fox in the snow", "n": 1, "size": "320x200",
                   "response_format": "b64_json", "model": "sd-1.5", "seed": 42})
        );
        let bare = Prompt {
            seed: None,
            negative_prompt: None,
            ..prompt
        };
        assert_eq!(
            generator("openai+http://127.0.0.1:1/v1", None).request_body(&bare),
            json!({"prompt": "a red fox in the snow", "n": 1, "size": "320x200",
                   "response_format": "b64_json"})
        );
        let sdapi = generator("sdapi+http://127.0.0.1:1", None);
        assert_eq!(
            sdapi.request_body(&bare),
            json!({"prompt": "a red fox in the snow", "negative_prompt": "", "width": 320,
                   "height": 200, "seed": -1, "batch_size": 1})
        );
        assert_eq!(sdapi.request_body(&prompt)["seed"], 42);
        assert_eq!(sdapi.request_body(&prompt)["negative_prompt"], "text");
    }

    #[test]
    fn a_url_is_never_repeated_in_its_error() {
        for wrong in [
            "http://user:sk-secret@127.0.0.1:7860",
            "openai+ftp://user:sk-secret@127.0.0.1/v1",
            "sdapi+http://user:sk-secret@127.0.0.1:7860",
            "sdapi+http://sk-secret@[::1",
            "http+sk-secret://127.0.0.1",
        ] {
            let said = parse_url(wrong).expect_err(wrong);
            assert!(!said.contains("sk-secret"), "{said}");
        }
    }

    #[test]
    fn an_answer_is_never_quoted_whole_in_an_error() {
        let huge = format!(r#"{{"images": "{}"}}"#, "A".repeat(100_000));
        let Err(err) = picture_in(Protocol::SdApi, Bytes::from(huge)) else {
            panic!("a string is not a list of pictures");
        };
        assert_eq!(err.code, crate::domain::ErrorCode::UpstreamError);
        assert!(err.message.len() < 500, "{}", err.message.len());
    }

    #[test]
    fn the_key_never_shows() {
        let shown = format!("{:?}", generator("sdapi+http://127.0.0.1:1", None));
        assert!(!shown.contains("sk-secret"), "{shown}");
    }

    #[test]
    fn upstream_messages_are_found_and_trimmed() {
        let said = |body: &str| upstream_message(body.as_bytes());
        assert_eq!(
            said(r#"{"error": {"message": "CUDA out of memory", "code": 500}}"#).as_deref(),
            Some("CUDA out of memory")
        );
        assert_eq!(
            said(r#"{"error": "model not loaded"}"#).as_deref(),
            Some("model not loaded")
        );
        assert_eq!(
            said(r#"{"detail": "Not authenticated"}"#).as_deref(),
            Some("Not authenticated")
        );
        assert_eq!(
            said("  Bad\n\tGateway\u{7}  ").as_deref(),
            Some("Bad Gateway")
        );
        assert_eq!(said(r#"{"status": 1}"#), None);
        assert_eq!(said(""), None);
        let long = said(&"x".repeat(5000)).expect("a message");
        assert_eq!(long.chars().count(), MESSAGE_CHARS + 3);
    }

    #[test]
    fn base64_is_read_bare_padded_or_not_and_as_a_data_uri() {
        assert_eq!(decode_base64("aGk=").expect("padded"), Bytes::from("hi"));
        assert_eq!(decode_base64("aGk").expect("unpadded"), Bytes::from("hi"));
        assert_eq!(
            decode_base64("data:image/png;base64,aG\nk=").expect("a data URI"),
            Bytes::from("hi")
        );
        let broken = decode_base64("not base64!").expect_err("refused");
        assert_eq!(broken.code, crate::domain::ErrorCode::UpstreamError);
    }
}
