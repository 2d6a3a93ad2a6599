//! `chatctl`: talks to a running `chatd` over its admin socket (a Unix
//! socket, never TCP) to list and create accounts, reset passwords, lock
//! accounts, list and revoke sessions, and see who is online.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chat_proto::admin::v1::admin_service_client::AdminServiceClient;
use chat_proto::admin::v1::*;
use clap::{Parser, Subcommand};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Administers a running chatd through its admin socket.
#[derive(Debug, Parser)]
#[command(name = "chatctl", version, about)]
pub struct Cli {
    /// The admin socket (default: `admin.sock` in `--data-dir`).
    #[arg(long, env = "CHATD_ADMIN_SOCKET")]
    pub socket: Option<PathBuf>,

    /// chatd's data directory, where its admin socket is by default.
    #[arg(long, env = "CHATD_DATA_DIR", default_value = "chatd-data")]
    pub data_dir: PathBuf,

    /// Read passwords from standard input, one a line, instead of asking
    /// at the terminal.
    #[arg(long)]
    pub password_stdin: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists every account.
    Accounts,
    /// Creates an account (asks for its password).
    CreateAccount { name: String },
    /// Sets an account's password (asks for it) and ends its sessions.
    ResetPassword { name: String },
    /// Locks an account: its sessions end and it cannot log in.
    Lock { name: String },
    /// Unlocks a locked account.
    Unlock { name: String },
    /// Deletes an account: it leaves its rooms and its name is free.
    DeleteAccount { name: String },
    /// Lists live sessions, of one account or of all.
    Sessions { account: Option<String> },
    /// Ends an account's sessions: the one whose id starts with ID, or all.
    Revoke { account: String, id: Option<String> },
    /// Lists who is online on the native protocol.
    Online,
}

/// Runs `cli`'s command, writing what it shows to `out`.
pub async fn run(cli: Cli, out: &mut impl Write) -> anyhow::Result<()> {
    let socket = cli
        .socket
        .clone()
        .unwrap_or_else(|| cli.data_dir.join("admin.sock"));
    let mut admin = AdminServiceClient::new(connect(&socket).await?);
    let password = |prompt: &str| read_password(cli.password_stdin, prompt);
    match cli.command {
        Command::Accounts => {
            let accounts = admin
                .list_accounts(ListAccountsRequest {})
                .await?
                .into_inner()
                .accounts;
            writeln!(
                out,
                "{:<24} {:<17} {:>8}  status",
                "name", "created", "sessions"
            )?;
            for account in accounts {
                let status = match (account.locked, account.online) {
                    (true, _) => "locked",
                    (false, true) => "online",
                    (false, false) => "offline",
                };
                writeln!(
                    out,
                    "{:<24} {:<17} {:>8}  {status}",
                    account.name,
                    time(account.created_at),
                    account.sessions
                )?;
            }
        }
        Command::CreateAccount { name } => {
            let password = password(&format!("password for {name}: "))?;
            admin
                .create_account(CreateAccountRequest {
                    name: name.clone(),
                    password,
                })
                .await?;
            writeln!(out, "created account {name}")?;
        }
        Command::ResetPassword { name } => {
            let password = password(&format!("new password for {name}: "))?;
            let reply = admin
                .reset_password(ResetPasswordRequest {
                    name: name.clone(),
                    password,
                })
                .await?
                .into_inner();
            writeln!(
                out,
                "password of {name} reset; {} sessions ended",
                reply.sessions_ended
            )?;
        }
        Command::Lock { name } => {
            let reply = admin
                .set_locked(SetLockedRequest {
                    name: name.clone(),
                    locked: true,
                })
                .await?
                .into_inner();
            writeln!(
                out,
                "locked {name}; {} sessions ended",
                reply.sessions_ended
            )?;
        }
        Command::Unlock { name } => {
            admin
                .set_locked(SetLockedRequest {
                    name: name.clone(),
                    locked: false,
                })
                .await?;
            writeln!(out, "unlocked {name}")?;
        }
        Command::DeleteAccount { name } => {
            admin
                .delete_account(DeleteAccountRequest { name: name.clone() })
                .await?;
            writeln!(out, "deleted account {name}")?;
        }
        Command::Sessions { account } => {
            let sessions = admin
                .list_sessions(ListSessionsRequest {
                    account: account.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .sessions;
            writeln!(
                out,
                "{:<12}  {:<24} {:<17} last used",
                "id", "account", "created"
            )?;
            for session in sessions {
                writeln!(
                    out,
                    "{:<12}  {:<24} {:<17} {}",
                    session.id,
                    session.account,
                    time(session.created_at),
                    time(session.last_used_at)
                )?;
            }
        }
        Command::Revoke { account, id } => {
            let reply = admin
                .revoke_sessions(RevokeSessionsRequest {
                    account: account.clone(),
                    id: id.unwrap_or_default(),
                })
                .await?
                .into_inner();
            writeln!(out, "{} sessions of {account} ended", reply.sessions_ended)?;
        }
        Command::Online => {
            let users = admin
                .list_online(ListOnlineRequest {})
                .await?
                .into_inner()
                .users;
            for user in users {
                let kind = if user.registered { "account" } else { "guest" };
                writeln!(out, "{:<24} {kind}", user.name)?;
            }
        }
    }
    Ok(())
}

/// A channel to the admin socket at `path`.
async fn connect(path: &Path) -> anyhow::Result<Channel> {
    let path = path.to_owned();
    let shown = path.display().to_string();
    // The URI is a placeholder: every connection goes to the socket.
    Endpoint::from_static("http://chatd.admin")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
        .map_err(|error| anyhow::anyhow!(socket_unreachable(&shown, &error)))
}

/// Why the admin socket at `shown` did not answer, and what to do.
fn socket_unreachable(shown: &str, error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(error);
    let kind = std::iter::from_fn(|| {
        let here = cause?;
        cause = here.source();
        Some(here)
    })
    .find_map(|error| error.downcast_ref::<std::io::Error>())
    .map(std::io::Error::kind);
    match kind {
        Some(std::io::ErrorKind::NotFound) => format!(
            "there is no admin socket at {shown}: is chatd running, with this data directory? \
             (--data-dir or --socket say where to look)"
        ),
        Some(std::io::ErrorKind::PermissionDenied) => format!(
            "you may not use chatd's admin socket {shown}: run chatctl as the user chatd runs as"
        ),
        Some(std::io::ErrorKind::ConnectionRefused) => format!(
            "nothing answers on chatd's admin socket {shown}: chatd is not running (the socket \
             is left from before)"
        ),
        _ => format!("cannot reach chatd's admin socket {shown}: {error}"),
    }
}

fn read_password(from_stdin: bool, prompt: &str) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password(prompt).context("cannot read the password")?
    };
    if password.is_empty() {
        bail!("no password given");
    }
    Ok(password)
}

/// Seconds since the epoch as local `YYYY-MM-DD HH:MM`.
fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}
