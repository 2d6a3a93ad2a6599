//! The command-line flags every client takes to say where to connect and
//! as whom (feature `cli`).

/// Where to connect, as whom, and to which room first.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// chatd's native-protocol address.
    #[arg(long, short, env = "CHAT_SERVER", default_value = "127.0.0.1:7070")]
    pub server: String,
    /// Your display name (default: your login name).
    #[arg(long, short, env = "CHAT_NAME")]
    pub name: Option<String>,
    /// The room to start in.
    #[arg(long, short, env = "CHAT_ROOM", default_value = "general")]
    pub room: String,
}

impl ConnectArgs {
    /// The name given, or else the user's login name.
    pub fn name_or_login(&self) -> Option<String> {
        self.name.clone().or_else(|| std::env::var("USER").ok())
    }
}
