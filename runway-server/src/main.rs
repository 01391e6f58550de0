//! The `runway-server` binary: `runway-server --help`.

use std::io::IsTerminal;

use clap::Parser;
use runway_server::config::LogFormat;
use runway_server::{ServerConfig, admin, prepare};
use tracing_subscriber::EnvFilter;

/// `runway-server [FLAGS]` serves; `runway-server COMMAND` runs a command on the
/// server's database (keys, accounts, migrations).
#[derive(Parser, Debug)]
#[command(
    name = "runway-server",
    version,
    about = "A self-hosted reference server of the Runway AI media API.",
    long_about = "A self-hosted reference server of the Runway AI media API \
(openapi/runway.yaml). It really decodes, edits and encodes images (in process) and \
video and audio (with ffmpeg), stores media under --data-dir (or in S3) and the state \
in a database (SQLite under --data-dir, or PostgreSQL), and serves them back. \
Without a command it serves; the commands manage keys and accounts.",
    args_conflicts_with_subcommands = false
)]
struct Cli {
    #[command(flatten)]
    server: ServerConfig,
    #[command(subcommand)]
    command: Option<admin::Command>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Cli {
        server: config,
        command,
    } = Cli::parse();
    if let Some(command) = command {
        let mut stdout = std::io::stdout().lock();
        return match admin::run(&config, command, &mut stdout).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("runway-server: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
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
    let json = config.log_format == LogFormat::Json;
    let prepared = match prepare(config.clone()).await {
        Ok(prepared) => prepared,
        Err(err) => {
            match json {
                true => tracing::error!(error = %err, "runway-server cannot start"),
                false => eprintln!("runway-server: {err}"),
            }
            return std::process::ExitCode::FAILURE;
        }
    };
    let state = &prepared.state;
    let listening = match prepared.listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(_) => state.public_url().to_owned(),
    };
    let version = env!("CARGO_PKG_VERSION");
    let engine = state.has_media_engine();
    if json {
        // Log shippers parse every line: the start report is log events too.
        tracing::info!(
            version,
            url = %listening,
            public_url = state.public_url(),
            storage = %state.storage(),
            ffmpeg = engine,
            "runway-server {version} listening on {listening}"
        );
        if !engine {
            tracing::warn!(ffmpeg_path = %config.ffmpeg.display(), "ffmpeg not found: video and audio operations answer 503 until it is installed");
        }
        if let Some(key) = &prepared.generated_key {
            tracing::info!(api_key = %key, account = "default", "API key of the new account `default` (shown once)");
        }
    } else {
        print_text_report(&prepared, &listening, &config);
    }
    match prepared.serve(shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            match json {
                true => tracing::error!(error = %err, "runway-server stopped"),
                false => eprintln!("runway-server: {err}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// The start report for people, on stdout (a closed stdout must not stop the server).
fn print_text_report(prepared: &runway_server::Prepared, listening: &str, config: &ServerConfig) {
    use std::io::Write as _;
    let state = &prepared.state;
    let mut lines = vec![format!(
        "runway-server {} listening on {listening}",
        env!("CARGO_PKG_VERSION")
    )];
    if listening != state.public_url() {
        lines.push(format!("media URLs start with {}", state.public_url()));
    }
    lines.push(format!("media stored in {}", state.storage()));
    lines.push(match state.has_media_engine() {
        true => "ffmpeg: found, video and audio operations are available".to_owned(),
        false => format!(
            "ffmpeg: NOT found ({}), video and audio operations answer 503 until it is installed",
            config.ffmpeg.display()
        ),
    });
    if let Some(key) = &prepared.generated_key {
        lines.push(format!(
            "API key of the new account `default` (shown once; `runway-server keys create \
             --account default` makes another): {key}"
        ));
        lines.push(format!(
            "try: RUNWAY_BASE_URL={} RUNWAY_API_KEY={key} cargo run -p runway-api --example tour",
            state.public_url()
        ));
    }
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
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
