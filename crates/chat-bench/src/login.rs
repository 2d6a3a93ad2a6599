//! `chat-bench login` and `chat-bench handshake`: what it costs to get in.
//! A login to an account checks an Argon2id hash; a TLS connection adds a
//! handshake. Both are timed from the client and in the server's CPU.

use std::time::{Duration, Instant};

use anyhow::bail;
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::chat::v1::{LoginRequest, RegisterRequest, WhoAmIRequest};
use clap::Args;
use hdrhistogram::Histogram;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::fanout::connect;
use crate::target::{Target, TargetArgs};

const PASSWORD: &str = "a benchmark's password";

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Logins of each kind, one after another.
    #[arg(long, short = 'n', default_value_t = 200)]
    count: usize,
    /// Account logins at once, for the throughput run.
    #[arg(long, short = 'c', default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct HandshakeArgs {
    /// New connections of each kind, one after another.
    #[arg(long, short = 'n', default_value_t = 500)]
    count: usize,
    #[command(flatten)]
    target: TargetArgs,
}

/// Timings of one kind of attempt, and the server CPU they took.
pub(crate) struct Timed {
    latency: Histogram<u64>,
    wall: Duration,
    cpu: Option<f64>,
}

impl Timed {
    /// Attempts a second, over the whole run.
    pub(crate) fn per_second(&self) -> f64 {
        self.latency.len() as f64 / self.wall.as_secs_f64()
    }

    pub(crate) fn print(&self, what: &str) {
        let n = self.latency.len() as f64;
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1e6;
        let cpu = self.cpu.map_or("not visible".into(), |cpu| {
            format!("{:.2} ms", cpu * 1e3 / n)
        });
        println!(
            "  {what:<34} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>7.0}/s  server CPU each {cpu}",
            ms(0.5),
            ms(0.99),
            self.per_second()
        );
    }
}

/// Runs `attempt` `count` times with `concurrency` at once, timing each.
pub(crate) async fn time<F, Fut>(
    target: &Target,
    count: usize,
    concurrency: usize,
    attempt: F,
) -> anyhow::Result<Timed>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let cpu_before = target.cpu_seconds();
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|worker| {
            let attempt = attempt.clone();
            tokio::spawn(async move {
                let mut latency = Histogram::<u64>::new(3)?;
                for i in (worker..count).step_by(concurrency.max(1)) {
                    let began = Instant::now();
                    attempt(i).await?;
                    latency.record(began.elapsed().as_nanos() as u64)?;
                }
                anyhow::Ok(latency)
            })
        })
        .collect();
    let mut latency = Histogram::<u64>::new(3)?;
    for worker in workers {
        latency.add(worker.await??)?;
    }
    let wall = started.elapsed();
    let cpu = target.cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    Ok(Timed { latency, wall, cpu })
}

pub async fn run_login(args: LoginArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target, &[]).await?;
    let channel = connect(target.native).await?;
    let account = format!("bench{}", std::process::id());
    ChatServiceClient::new(channel.clone())
        .register(RegisterRequest {
            name: account.clone(),
            password: PASSWORD.into(),
        })
        .await?;
    println!("{} logins of each kind, over one connection", args.count);

    let guests = channel.clone();
    let guest = time(&target, args.count, 1, move |i| {
        let mut client = ChatServiceClient::new(guests.clone());
        async move {
            client
                .login(LoginRequest {
                    name: format!("guest{i}"),
                    password: String::new(),
                })
                .await?;
            Ok(())
        }
    })
    .await?;
    guest.print("guest (no password)");

    let account_login = move |_| {
        let mut client = ChatServiceClient::new(channel.clone());
        let request = LoginRequest {
            name: account.clone(),
            password: PASSWORD.into(),
        };
        async move {
            client.login(request).await?;
            Ok(())
        }
    };
    let timed = time(&target, args.count, 1, account_login.clone()).await?;
    timed.print("account (Argon2id check)");
    let timed = time(&target, args.count, args.concurrency, account_login).await?;
    timed.print(&format!("account, {} at once", args.concurrency));
    Ok(())
}

pub async fn run_handshake(args: HandshakeArgs) -> anyhow::Result<()> {
    if args.target.is_remote() {
        bail!("handshake starts its own servers, with and without TLS; drop --server");
    }
    let dir = tempfile::tempdir()?;
    let (cert, key) = chat_testkit::certificate(dir.path());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let ca = Certificate::from_pem(std::fs::read(cert.as_ref())?);
    println!(
        "{} new connections of each kind, one after another: TCP connect, \
         the TLS handshake if any, HTTP/2 set-up and one call",
        args.count
    );
    for tls in [false, true] {
        let flags: &[&str] = if tls {
            &["--tls-cert", &cert, "--tls-key", &key]
        } else {
            &[]
        };
        let target = Target::start(&args.target, flags).await?;
        let endpoint = if tls {
            Endpoint::from_shared(format!("https://localhost:{}", target.native.port()))?
                .tls_config(ClientTlsConfig::new().ca_certificate(ca.clone()))?
        } else {
            Endpoint::from_shared(format!("http://{}", target.native))?
        };
        let timed = time(&target, args.count, 1, move |_| {
            let endpoint = endpoint.clone();
            async move {
                let channel = endpoint.connect().await?;
                // Without a session this is refused, after a full round
                // trip: the connection is proven to work.
                let _ = ChatServiceClient::new(channel)
                    .who_am_i(WhoAmIRequest {})
                    .await;
                Ok(())
            }
        })
        .await?;
        timed.print(if tls { "TLS 1.3" } else { "plaintext" });
    }
    Ok(())
}
