//! `chat-gui`: opens the desktop chat window.

use chat_client::cli::ConnectArgs;
use chat_gui::ChatGui;
use chat_gui::state::LoginForm;
use clap::Parser;

/// The desktop client for chatd's native protocol.
#[derive(Debug, Parser)]
#[command(name = "chat-gui", version, about)]
struct Args {
    /// These fill in the first screen, which can change them.
    #[command(flatten)]
    connect: ConnectArgs,
}

fn main() -> eframe::Result {
    let connect = Args::parse().connect;
    let form = LoginForm::new(&connect, connect.name_or_login().unwrap_or_default());
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
        Box::new(move |cc| Ok(Box::new(ChatGui::new(&cc.egui_ctx, form)))),
    )
}
