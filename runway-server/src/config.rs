//! Server configuration: command-line flags, each with an environment equivalent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default of every option that has one, written once: the flags and
/// [`ServerConfig::for_data_dir`] both read them.
pub mod defaults {
    /// `--listen`.
    pub const LISTEN: &str = "127.0.0.1:8080";
    /// `--data-dir`.
    pub const DATA_DIR: &str = "runway-data";
    /// `--max-body-bytes`: 64 MiB.
    pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
    /// `--max-upload-bytes`: 2 GiB.
    pub const MAX_UPLOAD_BYTES: u64 = 2 * 1024 * 1024 * 1024;
    /// `--max-input-bytes`: 48 MiB.
    pub const MAX_INPUT_BYTES: usize = 48 * 1024 * 1024;
    /// `--max-jobs`.
    pub const MAX_JOBS: usize = 2;
    /// `--queue-timeout-secs`.
    pub const QUEUE_TIMEOUT_SECS: u64 = 30;
    /// `--max-queued-tasks`.
    pub const MAX_QUEUED_TASKS: usize = 64;
    /// `--task-ttl-secs`: a day.
    pub const TASK_TTL_SECS: u64 = 24 * 60 * 60;
    /// `--task-lease-secs`.
    pub const TASK_LEASE_SECS: u64 = 30;
    /// `--task-max-attempts`.
    pub const TASK_MAX_ATTEMPTS: u32 = 3;
    /// `--job-timeout-secs`.
    pub const JOB_TIMEOUT_SECS: u64 = 300;
    /// `--fetch-timeout-secs`.
    pub const FETCH_TIMEOUT_SECS: u64 = 20;
    /// `--rate-limit-per-minute` (0: off).
    pub const RATE_LIMIT_PER_MINUTE: u32 = 0;
    /// `--image-generator-timeout-secs`: two minutes.
    pub const IMAGE_GENERATOR_TIMEOUT_SECS: u64 = 120;
    /// `--ffmpeg`.
    pub const FFMPEG: &str = "ffmpeg";
    /// `--ffprobe`.
    pub const FFPROBE: &str = "ffprobe";
}

/// How the server runs. `runway-server --help` lists every flag.
/// (The binary's name, version and description are on its command line, in
/// `main.rs`; this is the serving part, also parsed alone by tests.)
#[derive(clap::Parser, Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "RUNWAY_LISTEN", default_value = defaults::LISTEN)]
    pub listen: SocketAddr,

    /// Directory for scratch files of media jobs and, unless --storage and
    /// --database say otherwise, for stored media and the database (created if
    /// missing).
    #[arg(long, env = "RUNWAY_DATA_DIR", default_value = defaults::DATA_DIR, global = true)]
    pub data_dir: PathBuf,

    /// The database of accounts, keys and the server's state: sqlite://PATH
    /// (default: <data-dir>/runway.db, one server) or postgres://USER@HOST/NAME
    /// (shared by any number of replicas; needed with S3 storage).
    #[arg(long, env = "RUNWAY_DATABASE_URL", global = true)]
    pub database: Option<String>,

    /// Where media, media records, task records and idempotency records live: a
    /// directory (default: <data-dir>/media; one server owns it) or
    /// s3://bucket[/prefix] (shared by any number of replicas; endpoint, region
    /// and credentials from the standard AWS_* environment variables).
    #[arg(long, env = "RUNWAY_STORAGE")]
    pub storage: Option<String>,

    /// With S3 storage: answer media downloads with a 307 redirect to a presigned
    /// URL of the bucket, valid this many seconds, instead of serving the bytes
    /// through this server.
    #[arg(long, env = "RUNWAY_DOWNLOAD_REDIRECT_SECS")]
    pub download_redirect_secs: Option<u64>,

    /// Base of the media URLs the server hands out, e.g. https://media.example.com.
    /// Default: http://<listen address>.
    #[arg(long, env = "RUNWAY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// An accepted API key, for an account of its own; repeat for more. With none,
    /// the first start of a database makes the account `default` and prints its key.
    #[arg(long = "api-key", env = "RUNWAY_API_KEYS", value_delimiter = ',')]
    pub api_keys: Vec<String>,

    /// Largest JSON request body in bytes (and largest image upload, which is
    /// decoded in memory).
    #[arg(long, env = "RUNWAY_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Largest upload (`POST /v1/upload-media`) in bytes. Uploads stream to disk,
    /// so this bounds disk use, not memory.
    #[arg(long, env = "RUNWAY_MAX_UPLOAD_BYTES", default_value_t = defaults::MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,

    /// Largest media input (a data: URI's bytes or a fetched URL) in bytes.
    #[arg(long, env = "RUNWAY_MAX_INPUT_BYTES", default_value_t = defaults::MAX_INPUT_BYTES)]
    pub max_input_bytes: usize,

    /// Media jobs (image work and ffmpeg runs) that may run at once.
    #[arg(long, env = "RUNWAY_MAX_JOBS", default_value_t = defaults::MAX_JOBS)]
    pub max_jobs: usize,

    /// Seconds a request waits for a free job slot before it is answered 503.
    #[arg(long, env = "RUNWAY_QUEUE_TIMEOUT_SECS", default_value_t = defaults::QUEUE_TIMEOUT_SECS)]
    pub queue_timeout_secs: u64,

    /// Tasks that may wait for a job slot; when that many wait, creating another
    /// answers 503 with `Retry-After`.
    #[arg(long, env = "RUNWAY_MAX_QUEUED_TASKS", default_value_t = defaults::MAX_QUEUED_TASKS)]
    pub max_queued_tasks: usize,

    /// Seconds media are kept: older ones read 404 everywhere and are removed by a
    /// background sweep. Off by default (media are kept until deleted).
    #[arg(long, env = "RUNWAY_MEDIA_TTL_SECS")]
    pub media_ttl_secs: Option<u64>,

    /// Bytes of media each API key may keep stored; a write that would go past it
    /// is refused with 403 `quota_exceeded`. Off by default.
    #[arg(long, env = "RUNWAY_QUOTA_BYTES")]
    pub quota_bytes: Option<u64>,

    /// Seconds a finished task's record is kept (then it reads 404).
    #[arg(long, env = "RUNWAY_TASK_TTL_SECS", default_value_t = defaults::TASK_TTL_SECS)]
    pub task_ttl_secs: u64,

    /// Seconds a worker's claim on a running task lasts without renewal (its
    /// runner renews it twice a second); a task whose claim lapsed, its worker
    /// taken for dead, is run again by another.
    #[arg(long, env = "RUNWAY_TASK_LEASE_SECS", default_value_t = defaults::TASK_LEASE_SECS)]
    pub task_lease_secs: u64,

    /// Times a task may be started: one whose worker died is run again until
    /// then, and only then reads `failed` / `interrupted`.
    #[arg(long, env = "RUNWAY_TASK_MAX_ATTEMPTS", default_value_t = defaults::TASK_MAX_ATTEMPTS)]
    pub task_max_attempts: u32,

    /// What this server does: `api` answers the API (and runs synchronous
    /// requests) but no tasks, `worker` runs tasks (and serves only health and
    /// metrics), `all` both. API servers and workers then scale apart.
    #[arg(long, env = "RUNWAY_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Seconds one ffmpeg or ffprobe run may take before it is killed.
    #[arg(long, env = "RUNWAY_JOB_TIMEOUT_SECS", default_value_t = defaults::JOB_TIMEOUT_SECS)]
    pub job_timeout_secs: u64,

    /// Seconds a fetch of a remote media URL may take.
    #[arg(long, env = "RUNWAY_FETCH_TIMEOUT_SECS", default_value_t = defaults::FETCH_TIMEOUT_SECS)]
    pub fetch_timeout_secs: u64,

    /// Allow media URLs on loopback, private and link-local addresses (off: such
    /// URLs are refused, which protects the network the server runs in).
    #[arg(long, env = "RUNWAY_ALLOW_PRIVATE_FETCH")]
    pub allow_private_fetch: bool,

    /// Refuse every media URL of another host (422 `media_unreachable`) without
    /// resolving or connecting: for closed networks and for fuzzing the server.
    #[arg(long, env = "RUNWAY_NO_REMOTE_FETCH")]
    pub no_remote_fetch: bool,

    /// Requests per minute each API key may make on `/v1/` routes; 0 (the default)
    /// turns rate limiting off. Over the limit, requests get 429 with `Retry-After`.
    #[arg(long, env = "RUNWAY_RATE_LIMIT_PER_MINUTE", default_value_t = defaults::RATE_LIMIT_PER_MINUTE)]
    pub rate_limit_per_minute: u32,

    /// Requests a key may make in a burst before the per-minute rate applies
    /// (default: the per-minute rate).
    #[arg(long, env = "RUNWAY_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,

    /// A token that `GET /metrics` requires as `Authorization: Bearer <token>`; by
    /// default the metrics are open (bind to loopback or a private network).
    #[arg(long, env = "RUNWAY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,

    /// Delegate `generate-image` to the image model server you run, named by the
    /// protocol it speaks: openai+http(s)://HOST[:PORT]/BASE (OpenAI's Images API,
    /// `POST BASE/images/generations`: LocalAI, stable-diffusion.cpp's sd-server)
    /// or sdapi+http(s)://HOST[:PORT] (AUTOMATIC1111's `POST /sdapi/v1/txt2img`:
    /// AUTOMATIC1111, Forge, sd-server). Unset, pictures are drawn procedurally.
    #[arg(long, env = "RUNWAY_IMAGE_GENERATOR")]
    pub image_generator: Option<String>,

    /// The model the image generator is asked for (OpenAI's `model` field).
    #[arg(
        long,
        env = "RUNWAY_IMAGE_GENERATOR_MODEL",
        requires = "image_generator"
    )]
    pub image_generator_model: Option<String>,

    /// A key the image generator requires, sent as `Authorization: Bearer <key>`
    /// (never logged).
    #[arg(
        long,
        env = "RUNWAY_IMAGE_GENERATOR_KEY",
        hide_env_values = true,
        requires = "image_generator"
    )]
    pub image_generator_key: Option<Secret>,

    /// Seconds the image generator may take to answer with a picture (then the
    /// request is answered 504 `upstream_timeout`).
    #[arg(
        long,
        env = "RUNWAY_IMAGE_GENERATOR_TIMEOUT_SECS",
        default_value_t = defaults::IMAGE_GENERATOR_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub image_generator_timeout_secs: u64,

    /// How log lines are written: `text` for people, or `json` (one object per line,
    /// with the request id and the other fields of its span) for log shippers.
    #[arg(long, env = "RUNWAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The ffmpeg program.
    #[arg(long, env = "RUNWAY_FFMPEG", default_value = defaults::FFMPEG)]
    pub ffmpeg: PathBuf,

    /// The ffprobe program.
    #[arg(long, env = "RUNWAY_FFPROBE", default_value = defaults::FFPROBE)]
    pub ffprobe: PathBuf,
}

/// A value the server must never show (a token, a key): its `Debug` prints
/// `Secret(***)`, so a logged configuration holds no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self(value.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What a server does ([`ServerConfig::role`]).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The API, without task workers.
    Api,
    /// Task workers, with health and metrics only.
    Worker,
    /// Both.
    All,
}

impl Role {
    /// Whether the server answers the API.
    pub fn serves_api(self) -> bool {
        matches!(self, Role::Api | Role::All)
    }

    /// Whether the server runs tasks.
    pub fn runs_tasks(self) -> bool {
        matches!(self, Role::Worker | Role::All)
    }
}

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl ServerConfig {
    /// A configuration for tests and embedding: listen on `127.0.0.1:0`, store in
    /// `data_dir`, accept `api_keys`, everything else at its default.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>, api_keys: Vec<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            database: None,
            storage: None,
            download_redirect_secs: None,
            public_url: None,
            api_keys,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            max_upload_bytes: defaults::MAX_UPLOAD_BYTES,
            max_input_bytes: defaults::MAX_INPUT_BYTES,
            max_jobs: defaults::MAX_JOBS,
            queue_timeout_secs: defaults::QUEUE_TIMEOUT_SECS,
            max_queued_tasks: defaults::MAX_QUEUED_TASKS,
            media_ttl_secs: None,
            quota_bytes: None,
            task_ttl_secs: defaults::TASK_TTL_SECS,
            task_lease_secs: defaults::TASK_LEASE_SECS,
            task_max_attempts: defaults::TASK_MAX_ATTEMPTS,
            role: Role::All,
            job_timeout_secs: defaults::JOB_TIMEOUT_SECS,
            fetch_timeout_secs: defaults::FETCH_TIMEOUT_SECS,
            allow_private_fetch: false,
            no_remote_fetch: false,
            rate_limit_per_minute: defaults::RATE_LIMIT_PER_MINUTE,
            rate_limit_burst: None,
            metrics_token: None,
            image_generator: None,
            image_generator_model: None,
            image_generator_key: None,
            image_generator_timeout_secs: defaults::IMAGE_GENERATOR_TIMEOUT_SECS,
            log_format: LogFormat::Text,
            ffmpeg: defaults::FFMPEG.into(),
            ffprobe: defaults::FFPROBE.into(),
        }
    }

    /// The job timeout as a duration.
    pub fn job_timeout(&self) -> Duration {
        Duration::from_secs(self.job_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn secrets_never_show_in_the_configuration() {
        let Ok(parsed) = ServerConfig::try_parse_from([
            "runway-server",
            "--image-generator",
            "openai+http://127.0.0.1:9/v1",
            "--image-generator-key",
            "sk-upstream-secret",
            "--metrics-token",
            "metrics-secret",
        ]) else {
            panic!("the flags parse");
        };
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("sk-upstream-secret"), "{shown}");
        assert!(!shown.contains("metrics-secret"), "{shown}");
        assert_eq!(
            parsed.image_generator_key.as_ref().map(Secret::expose),
            Some("sk-upstream-secret")
        );
        // A key or a model without a generator is a mistake, said at start.
        if std::env::var_os("RUNWAY_IMAGE_GENERATOR").is_none() {
            assert!(
                ServerConfig::try_parse_from(["runway-server", "--image-generator-model", "sd"])
                    .is_err()
            );
        }
    }

    #[test]
    fn the_embedding_configuration_has_the_flags_defaults() {
        // The flags read RUNWAY_* variables: in a shell that sets one, there is
        // nothing to compare.
        if std::env::vars().any(|(name, _)| name.starts_with("RUNWAY_")) {
            eprintln!("skipped: a RUNWAY_* variable is set");
            return;
        }
        let Ok(mut parsed) = ServerConfig::try_parse_from(["runway-server"]) else {
            panic!("the defaults parse");
        };
        let embedded = ServerConfig::for_data_dir(defaults::DATA_DIR, parsed.api_keys.clone());
        // The two differ only where embedding means to: any free port.
        parsed.listen = embedded.listen;
        assert_eq!(format!("{parsed:?}"), format!("{embedded:?}"));
        assert_eq!(
            defaults::LISTEN.parse::<SocketAddr>().ok(),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
    }
}
