//! `chat`: connects to chatd as NAME and chats, full-screen on a terminal
//! or line by line (`--plain`, or when standard input is not a terminal).

use std::io::IsTerminal;

use chat_client::cli::ConnectArgs;
use clap::Parser;

/// The terminal client for chatd's native protocol.
#[derive(Debug, Parser)]
#[command(name = "chat", version, about)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Read lines from standard input and print events, one a line.
    #[arg(long)]
    plain: bool,
    /// No terminal bell when a message mentions you.
    #[arg(long)]
    no_bell: bool,
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
    if !args.plain && std::io::stdin().is_terminal() {
        // The login screen asks for whatever is missing.
        let name = args.connect.name_or_login().unwrap_or_default();
        return chat_tui::tui::run(args.connect, name, !args.no_bell).await;
    }
    let name = args
        .connect
        .name_or_login()
        .ok_or_else(|| anyhow::anyhow!("give a name with --name NAME"))?;
    // Asked for at the terminal without echo, never taken as a flag; a new
    // account's twice, as a typo there would lock its owner out.
    let password = if args.connect.needs_password() {
        let password = rpassword::prompt_password(format!("password for {name}: "))?;
        if args.connect.register
            && rpassword::prompt_password("the same password again: ")? != password
        {
            anyhow::bail!("the two passwords differ; nothing was registered, try again");
        }
        password
    } else {
        String::new()
    };
    let (client, events) = args.connect.log_in(name, password).await?;
    chat_tui::plain::run(client, events, args.connect.room).await
}
