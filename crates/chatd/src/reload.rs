//! Changing a running `chatd`'s settings, on SIGHUP: the limits that can
//! change live, and the TLS certificate (read again even when its path is
//! the same, so a renewed certificate is picked up). A changed setting
//! that needs a restart is named in the log, and left as it was.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::address_rate::AddressRate;
use crate::config::to_usize;
use crate::config_file::Settings;
use crate::sessions::Sessions;
use crate::transport::{Admission, Tls};

/// Settings that change live. (`log` too: `main` owns the log filter and
/// changes it itself.)
pub const LIVE_SETTINGS: &[&str] = &[
    "max-connections",
    "max-connections-per-address",
    "max-sends-per-second",
    "max-legacy-sends-per-second",
    "max-logins-per-second",
    "max-rooms-per-user",
    "tls-cert",
    "tls-key",
    "log",
];

/// Settings that may hold a password: their values are not logged.
const SECRET_SETTINGS: &[&str] = &["database-url", "nats-url"];

/// Where new settings are sent to a running server.
#[derive(Clone, Debug)]
pub struct Reloader {
    settings: watch::Sender<Config>,
}

impl Reloader {
    pub(crate) fn new(config: Config) -> (Self, watch::Receiver<Config>) {
        let (settings, receiver) = watch::channel(config);
        (Reloader { settings }, receiver)
    }

    /// Hands `config` to the server, which applies what can change live.
    pub fn reload(&self, config: Config) {
        self.settings.send_replace(config);
    }
}

/// What a new configuration changes in a running server.
pub(crate) struct Live {
    /// The settings running now.
    pub running: Settings,
    pub admission: Admission,
    pub legacy_rate: AddressRate,
    pub login_rate: AddressRate,
    pub sessions: Sessions,
    pub tls: Option<Tls>,
}

impl Live {
    /// Applies each configuration sent through `settings` until
    /// `shutdown`.
    pub async fn follow(
        mut self,
        mut settings: watch::Receiver<Config>,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                changed = settings.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
            let config = settings.borrow_and_update().clone();
            self.apply(&config);
        }
    }

    fn apply(&mut self, new: &Config) {
        if let Some(max) = new.connections.max_connections {
            self.admission.set_max_total(to_usize(max));
        }
        self.admission
            .set_max_per_address(new.max_connections_per_address());
        self.legacy_rate
            .set_per_second(new.users.max_legacy_sends_per_second);
        self.login_rate
            .set_per_second(new.users.max_logins_per_second);
        let sessions = new.sessions();
        self.sessions
            .set_limits(sessions.max_rooms_per_user, sessions.max_sends_per_second);
        let tls_loaded = self.reload_tls(new);

        let mut applied = 0;
        for mut change in self.running.changes_to(&new.settings) {
            if SECRET_SETTINGS.contains(&change.key.as_str()) {
                change.old = "(hidden)".into();
                change.new = "(hidden)".into();
            }
            let is_tls = change.key.starts_with("tls-");
            // Back to the default (from the open-file limit): worked out at
            // start only.
            let unlimited =
                change.key == "max-connections" && new.connections.max_connections.is_none();
            if !LIVE_SETTINGS.contains(&change.key.as_str()) || (is_tls && !tls_loaded) || unlimited
            {
                // Kept as it runs, so the next reload names it again.
                tracing::warn!(
                    setting = change.key,
                    running = change.old,
                    new = change.new,
                    "setting not changed: it needs a restart"
                );
                continue;
            }
            tracing::info!(
                setting = change.key,
                from = change.old,
                to = change.new,
                "setting changed"
            );
            self.running =
                std::mem::take(&mut self.running).with_setting_of(&new.settings, &change.key);
            applied += 1;
        }
        tracing::info!(changed = applied, "configuration reloaded");
    }

    /// Loads the certificate again, if TLS is on; whether it could.
    fn reload_tls(&self, new: &Config) -> bool {
        let (Some(tls), Some(cert), Some(key)) = (
            &self.tls,
            &new.connections.tls_cert,
            &new.connections.tls_key,
        ) else {
            return false;
        };
        match tls.reload(cert, key) {
            Ok(()) => {
                tracing::info!(cert = %cert.display(), "TLS certificate loaded");
                true
            }
            Err(error) => {
                tracing::error!(%error, "cannot load the TLS certificate; keeping the old one");
                false
            }
        }
    }
}
