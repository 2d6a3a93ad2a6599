//! `chat-gui`: opens the desktop chat window.

use chat_gui::ChatGui;
use clap::Parser;

/// The desktop client for chatd's native protocol.
#[derive(Debug, Parser)]
#[command(name = "chat-gui", version, about)]
struct Args {
    /// chatd's native-protocol address (can be changed on the first screen).
    #[arg(long, short, env = "CHAT_SERVER", default_value = "127.0.0.1:7070")]
    server: String,
    /// Your display name (default: your login name).
    #[arg(long, short, env = "CHAT_NAME")]
    name: Option<String>,
    /// The room to start in.
    #[arg(long, short, env = "CHAT_ROOM", default_value = "general")]
    room: String,
}

fn main() -> eframe::Result {
    let args = Args::parse();
    let name = args
        .name
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("chat")
            .with_inner_size([900.0, 600.0])
            .with_min_inner_size([480.0, 320.0]),
        ..Default::default()
    };
    eframe::run_native(
        "chat",
        options,
        Box::new(move |cc| {
            Ok(Box::new(ChatGui::new(
                &cc.egui_ctx,
                args.server,
                name,
                args.room,
            )))
        }),
    )
}
