//! The command-line flags every client takes to say where to connect and
//! as whom (feature `cli`).

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::{Client, ClientConfig, ClientError, ClientEvent};

/// Where to connect, as whom, and to which room first.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ConnectArgs {
    /// chatd's native-protocol address (`https://HOST:PORT` for TLS), or
    /// several, comma separated (nodes of a cluster: when one fails, the
    /// client moves to the next and resumes there).
    #[arg(long, short, env = "CHAT_SERVER", default_value = "127.0.0.1:7070")]
    pub server: String,
    /// Your display name (default: your login name).
    #[arg(long, short, env = "CHAT_NAME")]
    pub name: Option<String>,
    /// The room to start in.
    #[arg(long, short, env = "CHAT_ROOM", default_value = "general")]
    pub room: String,
    /// Speak TLS to a server given without `https://`.
    #[arg(long)]
    pub tls: bool,
    /// A PEM certificate to trust besides the system's (a self-signed
    /// server's, or its CA's).
    #[arg(long, env = "CHAT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Log in to your account under --name (asks for its password).
    #[arg(long)]
    pub password: bool,
    /// Create an account under --name (asks for a password).
    #[arg(long, conflicts_with = "password")]
    pub register: bool,
    /// Keep the session token in this file (mode 0600) and use it next
    /// time, so the password is asked for once. Nothing secret is kept
    /// on disk without it.
    #[arg(long, env = "CHAT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

impl ConnectArgs {
    /// The name given, or else the user's login name.
    pub fn name_or_login(&self) -> Option<String> {
        self.name.clone().or_else(|| std::env::var("USER").ok())
    }

    /// Whether a password must be asked for: an account login or a
    /// registration, with no saved token to use instead.
    pub fn needs_password(&self) -> bool {
        self.register || (self.password && self.saved_token().is_none())
    }

    /// Logs in as these flags say, as `name` with `password` (empty: a
    /// guest, or the saved token), and keeps the session token in the
    /// token file if one was given.
    pub async fn log_in(
        &self,
        name: String,
        password: String,
    ) -> Result<(Client, mpsc::Receiver<ClientEvent>), ClientError> {
        let config = self.config(name, password).map_err(ClientError::Setup)?;
        let (client, events) = Client::connect(config).await?;
        if let Some(token) = client.session_token() {
            self.save_token(&token).map_err(|error| {
                ClientError::Setup(format!("cannot keep the session token: {error}"))
            })?;
        }
        Ok((client, events))
    }

    /// The client config these flags say, as `name` with `password`
    /// (empty for a guest).
    fn config(&self, name: String, password: String) -> Result<ClientConfig, String> {
        let ca_cert = match &self.ca_cert {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(ClientConfig {
            password,
            register: self.register,
            tls: self.tls,
            ca_cert,
            token: self.saved_token(),
            rooms: vec![self.room.clone()],
            ..ClientConfig::new(self.server.clone(), name)
        })
    }

    fn saved_token(&self) -> Option<String> {
        let token = std::fs::read_to_string(self.token_file.as_ref()?).ok()?;
        Some(token.trim().to_owned()).filter(|token| !token.is_empty())
    }

    /// Keeps `token` in the token file, if one was given, readable by
    /// its owner only.
    pub fn save_token(&self, token: &str) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;

        let Some(path) = &self.token_file else {
            return Ok(());
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?
            .write_all(token.as_bytes())
    }
}
