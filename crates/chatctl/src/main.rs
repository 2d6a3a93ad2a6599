//! `chatctl`: administers a running `chatd` through its admin socket.

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = chatctl::Cli::parse();
    match chatctl::run(cli, &mut std::io::stdout()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // chatd's own words, not the RPC's plumbing.
            match error.downcast_ref::<tonic::Status>() {
                Some(status) => eprintln!("chatctl: {}", status.message()),
                None => eprintln!("chatctl: {error:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
