//! `chatd`: reads its settings, starts logging, serves until Ctrl-C or
//! SIGTERM; SIGHUP reads the settings again.

use std::ffi::OsString;
use std::io::IsTerminal;

use anyhow::Context;
use chatd::config::{Command, LogFormat};
use chatd::config_file::{self, LoadError};
use chatd::{Chatd, Config, Reloader};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Changes the log filter of the running process.
type FilterHandle = reload::Handle<EnvFilter, Registry>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // One message, whatever RUST_BACKTRACE says: an operator's, not a
        // developer's.
        Err(error) => {
            eprintln!("chatd: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let config = match config_file::load(args.clone()) {
        Ok(config) => config,
        Err(LoadError::Flags(error)) => error.exit(),
        Err(error) => {
            eprintln!("chatd: {error}");
            std::process::exit(2);
        }
    };
    match &config.command {
        Some(Command::GenCert { host, out_dir }) => return gen_cert(host, out_dir),
        Some(Command::Config) => {
            print!("{}", config.settings.to_toml());
            return Ok(());
        }
        None => {}
    }
    let filter = start_logging(&config)?;

    let grace = config.connections.shutdown_grace;
    let server = Chatd::bind(config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(reload_on_hangup(args, server.reloader(), filter));
    let mut serving = tokio::spawn(server.run(shutdown.clone()));

    tokio::select! {
        result = &mut serving => return Ok(result??),
        () = shutdown_signal() => {}
    }
    tracing::info!("shutting down: ending streams and draining connections");
    shutdown.cancel();
    match tokio::time::timeout(grace, serving).await {
        Ok(result) => result??,
        Err(_) => tracing::warn!(
            ?grace,
            "connections still open after the grace period; closing them"
        ),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Logs to stderr, as `--log-format` says, through `--log`'s filter, which
/// the returned handle can change.
fn start_logging(config: &Config) -> anyhow::Result<FilterHandle> {
    let filter = EnvFilter::try_new(&config.logging.log).context("invalid --log filter")?;
    let (filter, handle) = reload::Layer::new(filter);
    let logs = tracing_subscriber::registry().with(filter);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match config.logging.log_format {
        LogFormat::Text => logs
            .with(lines.with_ansi(std::io::stderr().is_terminal()))
            .init(),
        LogFormat::Json => logs.with(lines.json().flatten_event(true)).init(),
    }
    Ok(handle)
}

/// On each SIGHUP, reads the settings again (the same flags, the
/// environment, the file) and applies what can change live. A bad file is
/// logged and changes nothing.
async fn reload_on_hangup(args: Vec<OsString>, reloader: Reloader, filter: FilterHandle) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP: no reloading");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reading the configuration again");
        let config = match config_file::load(args.clone()) {
            Ok(config) => config,
            Err(error) => {
                let error = error.to_string();
                tracing::error!(error = error.trim_end(), "configuration not reloaded");
                continue;
            }
        };
        match EnvFilter::try_new(&config.logging.log) {
            Ok(new) => {
                if let Err(error) = filter.reload(new) {
                    tracing::error!(%error, "cannot change the log filter");
                }
            }
            Err(error) => tracing::error!(%error, "invalid log filter; keeping the old one"),
        }
        reloader.reload(config);
    }
}

/// Writes a self-signed certificate for `hosts` and its key to `dir`.
fn gen_cert(hosts: &[String], dir: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let (cert, key) = chatd::transport::self_signed(hosts).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert)
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    // The key is for the server's eyes only: made 0600, and an old file
    // written over is made so before the key is in it.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_path)
        .and_then(|mut file| {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.write_all(key.as_bytes())
        })
        .with_context(|| format!("cannot write {}", key_path.display()))?;
    println!(
        "wrote {} and {} for {}\n\
         serve with:   chatd --tls-cert {} --tls-key {}\n\
         connect with: chat --server https://{}:7070 --ca-cert {}",
        cert_path.display(),
        key_path.display(),
        hosts.join(", "),
        cert_path.display(),
        key_path.display(),
        hosts[0],
        cert_path.display(),
    );
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
