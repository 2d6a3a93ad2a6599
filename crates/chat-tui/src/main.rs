//! `chat`: connects to chatd as NAME and chats, full-screen on a terminal
//! or line by line (`--plain`, or when standard input is not a terminal).

use std::io::IsTerminal;

use chat_client::{Client, ClientConfig};
use chat_tui::app::App;
use clap::Parser;

/// The terminal client for chatd's native protocol.
#[derive(Debug, Parser)]
#[command(name = "chat", version, about)]
struct Args {
    /// chatd's native-protocol address.
    #[arg(long, short, env = "CHAT_SERVER", default_value = "127.0.0.1:7070")]
    server: String,
    /// Your display name (default: your login name).
    #[arg(long, short, env = "CHAT_NAME")]
    name: Option<String>,
    /// The room to start in.
    #[arg(long, short, env = "CHAT_ROOM", default_value = "general")]
    room: String,
    /// Read lines from standard input and print events, one a line.
    #[arg(long)]
    plain: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(error) = run(args).await {
        eprintln!("chat: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let name = args
        .name
        .or_else(|| std::env::var("USER").ok())
        .ok_or_else(|| anyhow::anyhow!("give a name with --name NAME"))?;
    let config = ClientConfig {
        rooms: vec![args.room.clone()],
        ..ClientConfig::new(args.server.clone(), name.clone())
    };
    let (client, events) = Client::connect(config).await?;
    if args.plain || !std::io::stdin().is_terminal() {
        chat_tui::plain::run(client, events, args.room).await
    } else {
        chat_tui::tui::run(client, events, App::new(name, args.server)).await
    }
}
