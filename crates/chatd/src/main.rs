//! `chatd`: parses flags, starts logging, serves until Ctrl-C or SIGTERM.

use std::io::IsTerminal;

use anyhow::Context;
use chatd::config::{Command, LogFormat};
use chatd::{Chatd, Config};
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if let Some(Command::GenCert { host, out_dir }) = &config.command {
        return gen_cert(host, out_dir);
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }

    let grace = config.shutdown_grace;
    let server = Chatd::bind(config).await?;
    let shutdown = CancellationToken::new();
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

/// Writes a self-signed certificate for `hosts` and its key to `dir`.
fn gen_cert(hosts: &[String], dir: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let (cert, key) = chatd::transport::self_signed(hosts).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert)
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    // The key is for the server's eyes only.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_path)
        .and_then(|mut file| file.write_all(key.as_bytes()))
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
