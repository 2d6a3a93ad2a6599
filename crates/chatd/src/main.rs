//! `chatd`: parses flags, starts logging, serves until Ctrl-C or SIGTERM.

use std::io::IsTerminal;

use anyhow::Context;
use chatd::{Chatd, Config};
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

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
