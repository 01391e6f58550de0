//! The `runway-server` binary: `runway-server --help`.

use std::io::IsTerminal;

use clap::Parser;
use runway_server::config::LogFormat;
use runway_server::{ServerConfig, prepare};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = ServerConfig::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        // Colours only on a terminal: a log file or a collector gets plain text.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
    }
    let prepared = match prepare(config.clone()).await {
        Ok(prepared) => prepared,
        Err(err) => {
            eprintln!("runway-server: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let state = &prepared.state;
    // The report goes to stdout; a closed stdout must not stop the server.
    macro_rules! report {
        ($($arg:tt)*) => {{
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }};
    }
    let listening = match prepared.listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(_) => state.public_url().to_owned(),
    };
    report!(
        "runway-server {} listening on {listening}",
        env!("CARGO_PKG_VERSION"),
    );
    if listening != state.public_url() {
        report!("media URLs start with {}", state.public_url());
    }
    report!("media stored in {}", state.storage());
    match state.has_media_engine() {
        true => report!("ffmpeg: found, video and audio operations are available"),
        false => report!(
            "ffmpeg: NOT found ({}), video and audio operations answer 503 until it is installed",
            config.ffmpeg.display()
        ),
    }
    if let Some(key) = &prepared.generated_key {
        report!("API key (created for this run; pass --api-key to choose one): {key}");
        report!(
            "try: RUNWAY_BASE_URL={} RUNWAY_API_KEY={key} cargo run -p runway-api --example tour",
            state.public_url()
        );
    }
    match prepared.serve(shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("runway-server: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
