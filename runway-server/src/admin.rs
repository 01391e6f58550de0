//! The commands run on the server's machine: `runway-server migrate`,
//! `runway-server keys ...` and `runway-server accounts ...`. Each finds the
//! database as the server does (`--database`, or SQLite under `--data-dir`).

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::config::ServerConfig;
use crate::services::accounts::Accounts;
use crate::storage::db::{ApiKeyInfo, Database};

/// A command other than serving.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Run the database's migrations, then stop (the server runs them at start too).
    Migrate,
    /// Make, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
}

/// `runway-server keys ...`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum KeysCommand {
    /// Make a key for an account (made if it does not exist) and print it, alone,
    /// on stdout: it is shown only this once.
    Create {
        /// The account's name (letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        account: String,
        /// A label to tell the key apart by.
        #[arg(long = "name")]
        label: Option<String>,
    },
    /// List keys (never the keys themselves: their first characters).
    List {
        /// Only this account's keys.
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key, given as the key itself or as its id (`key_...`); every
    /// replica refuses it within a few seconds.
    Revoke {
        /// The key, or its id.
        key_or_id: String,
    },
}

/// `runway-server accounts ...`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AccountsCommand {
    /// List accounts.
    List,
    /// Set the password an account signs in to the cabinet with, read from
    /// stdin (its first line; at least 10 characters), making the account if
    /// it does not exist; its open sessions end.
    SetPassword {
        /// The account's name.
        name: String,
    },
}

/// Runs `command` against the database of `config`, writing what it prints to
/// `out`; the error is a sentence for people.
pub async fn run(
    config: &ServerConfig,
    command: Command,
    out: &mut impl Write,
) -> Result<(), String> {
    let url = crate::startup::database_url(config).map_err(|e| e.to_string())?;
    if let crate::storage::db::DatabaseUrl::Sqlite(Some(path)) = &url
        && let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let db = Database::open(&url)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let accounts = Accounts::new(db.clone());
    let said = |e: crate::domain::Error| e.message;
    let written = |e: std::io::Error| e.to_string();
    let result = match command {
        Command::Migrate => writeln!(out, "{url}: migrations are up to date").map_err(written),
        Command::Keys(KeysCommand::Create { account, label }) => {
            let made = accounts
                .create_key(&account, label.as_deref())
                .await
                .map_err(said)?;
            eprintln!(
                "made {} ({}...) for the account {}: it is shown only this once",
                made.info.id, made.info.prefix, made.info.account_name
            );
            writeln!(out, "{}", made.key).map_err(written)
        }
        Command::Keys(KeysCommand::List { account }) => {
            let keys = accounts.keys(account.as_deref()).await.map_err(said)?;
            print_keys(out, &keys).map_err(written)
        }
        Command::Keys(KeysCommand::Revoke { key_or_id }) => {
            let revoked = accounts.revoke(&key_or_id).await.map_err(said)?;
            writeln!(
                out,
                "revoked {} ({}, account {})",
                revoked.id, revoked.prefix, revoked.account_name
            )
            .map_err(written)
        }
        Command::Accounts(AccountsCommand::SetPassword { name }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            crate::services::sessions::set_password(&db, &name, password)
                .await
                .map_err(said)?;
            writeln!(
                out,
                "the account {name} signs in to the cabinet with that password"
            )
            .map_err(written)
        }
        Command::Accounts(AccountsCommand::List) => {
            let all = accounts.accounts().await.map_err(said)?;
            let mut lines = vec![format!("{:<20} {:<24} CREATED", "ID", "NAME")];
            for account in all {
                lines.push(format!(
                    "{:<20} {:<24} {}",
                    short(&account.id),
                    account.name,
                    time(Some(account.created_ms))
                ));
            }
            writeln!(out, "{}", lines.join("\n")).map_err(written)
        }
    };
    db.close().await;
    result
}

fn print_keys(out: &mut impl Write, keys: &[ApiKeyInfo]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<22} {:<14} {:<20} {:<20} {:<17} {:<17} REVOKED",
        "ID", "KEY", "ACCOUNT", "LABEL", "CREATED", "LAST USED"
    )?;
    for key in keys {
        writeln!(
            out,
            "{:<22} {:<14} {:<20} {:<20} {:<17} {:<17} {}",
            key.id,
            format!("{}...", key.prefix),
            key.account_name,
            key.label.as_deref().unwrap_or("-"),
            time(Some(key.created_ms)),
            time(key.last_used_ms),
            time(key.revoked_ms),
        )?;
    }
    Ok(())
}

/// A time for a table, to the minute, UTC; `-` for none.
fn time(ms: Option<i64>) -> String {
    ms.and_then(DateTime::<Utc>::from_timestamp_millis)
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
}

/// An id short enough for a table (the digest ids of accounts from before).
fn short(id: &str) -> String {
    match id.char_indices().nth(19) {
        Some((end, _)) => format!("{}…", &id[..end]),
        None => id.to_owned(),
    }
}
