//! What `grpc.health.v1` reports: every protocol's services SERVING while
//! `chatd` can do its work (its store answers and, in a cluster, the
//! broker is connected), NOT_SERVING while it cannot, and NOT_SERVING from
//! the moment it starts shutting down, so load balancers and watchers stop
//! sending it clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::metrics::Metrics;

/// How often what `chatd` depends on is checked, and how long a check may
/// take before it counts as failed.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// One thing `chatd` depends on, checked: `Err` says what is wrong.
pub type Check = Box<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A cheap-to-clone handle to what the health service reports.
#[derive(Clone, Debug)]
pub struct Health {
    reporter: HealthReporter,
    services: Arc<Mutex<Vec<&'static str>>>,
    serving: Arc<AtomicBool>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            reporter: HealthReporter::new(),
            services: Arc::default(),
            serving: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl Health {
    /// What the health service serves.
    pub fn reporter(&self) -> &HealthReporter {
        &self.reporter
    }

    /// `S` is served: reported SERVING while `chatd` is healthy.
    pub async fn serve<S: NamedService>(&self) {
        self.services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(S::NAME);
        let status = status(self.serving.load(Ordering::Relaxed));
        self.reporter.set_service_status(S::NAME, status).await;
    }

    /// Runs `checks` every second until `shutdown`, reporting every
    /// service (and the server, `""`) SERVING while all pass; at shutdown,
    /// NOT_SERVING. Each check's round trip goes to `metrics`.
    pub async fn watch(
        self,
        checks: Vec<(&'static str, Check)>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) {
        for (what, _) in &checks {
            metrics.watching(what);
        }
        let mut every = tokio::time::interval(CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = shutdown.cancelled() => break,
            }
            let mut failed = None;
            for (what, check) in &checks {
                let started = Instant::now();
                let result = tokio::time::timeout(CHECK_TIMEOUT, check()).await;
                metrics.checked(what, started.elapsed(), matches!(result, Ok(Ok(()))));
                let error = match result {
                    Ok(Ok(())) => continue,
                    Ok(Err(error)) => error,
                    Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
                };
                failed = Some(format!("{what}: {error}"));
                break;
            }
            self.set(failed).await;
        }
        self.set(Some("shutting down".into())).await;
    }

    /// Reports SERVING, or NOT_SERVING for the reason given, if that is a
    /// change (watchers hear changes only).
    async fn set(&self, trouble: Option<String>) {
        let serving = trouble.is_none();
        if self.serving.swap(serving, Ordering::Relaxed) == serving {
            return;
        }
        match &trouble {
            Some(why) => tracing::warn!(why, "health: NOT_SERVING"),
            None => tracing::info!("health: SERVING again"),
        }
        let services = self
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for service in services.into_iter().chain([""]) {
            self.reporter
                .set_service_status(service, status(serving))
                .await;
        }
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}
