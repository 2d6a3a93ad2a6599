//! `chat-bench fanout`: S subscribers over C connections in R rooms, P
//! publishers, M-byte messages; deliveries per second and send-to-receive
//! latency. The same load over Redis PUB/SUB gives figures to hold chatd's
//! against.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use chat_proto::chat::v1 as native;
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::classic::chat_server_client::ChatServerClient;
use chat_proto::classic::{Empty, Note};
use clap::{Args, ValueEnum};
use futures::{SinkExt, Stream, StreamExt};
use hdrhistogram::Histogram;
use redis_protocol::codec::Resp2;
use redis_protocol::resp2::types::BytesFrame as RespFrame;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Framed;
use tonic::Request;
use tonic::transport::{Channel, Endpoint};

use crate::raw_reader::RawNotes;
use crate::target::{ROOMY, Target, TargetArgs, process_cpu_seconds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Classic,
    Native,
    /// Redis PUB/SUB, for comparison: a `redis-server` started here, rooms
    /// as channels, each subscriber on a connection of its own (Redis
    /// sends a channel's message once per connection).
    Redis,
    /// The classic protocol from a bare HTTP/2 relay started here (see
    /// `chat-bench bare-h2`): what HTTP/2 itself costs, under chatd.
    BareH2,
}

impl Protocol {
    /// Whether subscribers and publishers speak the classic protocol.
    fn is_classic(self) -> bool {
        matches!(self, Protocol::Classic | Protocol::BareH2)
    }
}

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    #[arg(long, value_enum, default_value = "classic")]
    protocol: Protocol,
    /// Subscribers (S).
    #[arg(long, short = 's', default_value_t = 1000)]
    subscribers: usize,
    /// Connections the subscribers share (C).
    #[arg(long, short = 'c', default_value_t = 10)]
    connections: usize,
    /// Rooms (R; the classic protocol has one).
    #[arg(long, short = 'r', default_value_t = 1)]
    rooms: usize,
    /// Publishers (P), each on a connection of its own.
    #[arg(long, short = 'p', default_value_t = 2)]
    publishers: usize,
    /// Messages a second per publisher; 0 sends back to back.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Bytes of text per message (M).
    #[arg(long, short = 'm', default_value_t = 100)]
    message_bytes: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Classic subscribers more, each on a connection of its own, read
    /// with raw HTTP/2 instead of tonic: their latency, printed apart,
    /// checks the other subscribers'.
    #[arg(long, default_value_t = 0)]
    raw_readers: usize,
    /// Native members more who only type: each starts and stops typing
    /// in turn every half second (each change reaches every member of its
    /// room), to see what typing traffic costs the messages' fan-out.
    #[arg(long, default_value_t = 0)]
    typists: usize,
    /// Then the same load over Redis PUB/SUB (see `--protocol redis`),
    /// printed after chatd's.
    #[arg(long)]
    beside_redis: bool,
    /// The Redis server program, for `--protocol redis` and
    /// `--beside-redis`.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
}

/// Shared by every task of a run.
struct Run {
    /// Send times are nanoseconds since this.
    base: Instant,
    measuring: AtomicBool,
    sent: AtomicU64,
    delivered: AtomicU64,
    /// Typing events the subscribers received while measuring.
    typing: AtomicU64,
    stop: watch::Sender<bool>,
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<()> {
    args.check()?;
    let mut loads = vec![args.clone()];
    if args.beside_redis {
        loads.push(FanoutArgs {
            protocol: Protocol::Redis,
            ..args
        });
    }
    // Measured one after the other, each server alone on the machine;
    // printed together at the end.
    let mut results = Vec::new();
    for load in loads {
        let target = match load.protocol {
            Protocol::Redis => Target::redis(&load.target, &load.redis_server).await?,
            Protocol::BareH2 => Target::bare_h2(&load.target).await?,
            _ => Target::start(&load.target, ROOMY).await?,
        };
        let figures = measure(&load, &target, "").await?;
        results.push((load.describe(), figures));
    }
    for (load, figures) in results {
        println!("{load}");
        figures.print();
    }
    Ok(())
}

impl FanoutArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        if self.protocol.is_classic() && self.rooms != 1 {
            bail!("the classic protocol has one room; use --rooms 1");
        }
        if self.typists > 0 && self.protocol != Protocol::Native {
            bail!("--typists type in native rooms; use --protocol native");
        }
        if self.raw_readers > 0 && !self.protocol.is_classic() {
            bail!("--raw-readers read the classic protocol; use --protocol classic or bare-h2");
        }
        if self.beside_redis && (self.protocol == Protocol::Redis || self.target.is_remote()) {
            bail!(
                "--beside-redis starts both servers here: leave out --server and --protocol redis"
            );
        }
        if self.message_bytes < PAYLOAD_HEAD {
            bail!(
                "--message-bytes must be at least {PAYLOAD_HEAD} (the send time and node take {PAYLOAD_HEAD})"
            );
        }
        Ok(())
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn target(&self) -> &TargetArgs {
        &self.target
    }

    /// The load, in one line.
    pub fn describe(&self) -> String {
        format!(
            "{:?} protocol: {} subscribers / {} connections / {} rooms, {} publishers{}, {} B messages{}, {:?}",
            self.protocol,
            self.subscribers,
            match self.protocol {
                Protocol::Redis => self.subscribers,
                _ => self.connections,
            },
            self.rooms,
            self.publishers,
            if self.rate > 0 {
                format!(" at {}/s each", self.rate)
            } else {
                " back to back".into()
            },
            self.message_bytes,
            if self.typists > 0 {
                format!(", {} typists", self.typists)
            } else {
                String::new()
            },
            self.duration,
        )
    }
}

/// What one fan-out run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Latency (p50, p99) in milliseconds of the deliveries to a node
    /// other than the sender's, when there are several nodes.
    pub cross_node: Option<(f64, f64)>,
    /// CPU-seconds per second of each watched process (a cluster's).
    pub processes: Vec<(String, f64)>,
    pub sent: f64,
    pub delivered: f64,
    /// Typing events delivered a second (beside the messages).
    pub typing: f64,
    /// Latency quantiles (p50, p99, p999) and maximum, in milliseconds.
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub samples: u64,
    /// The sends' round trips (p50, p99), in milliseconds.
    pub send_round_trip: (f64, f64),
    /// The server's name, CPU-seconds per second, and peak memory in MiB.
    pub server: &'static str,
    pub cpu: Option<f64>,
    pub peak_mib: Option<f64>,
    /// chat-bench's own CPU-seconds per second: on a shared machine, what
    /// the load generator took from the server.
    pub bench_cpu: Option<f64>,
    /// The raw HTTP/2 readers' latency (p50, p99, p999, in milliseconds)
    /// and samples, if there were any.
    pub raw: Option<(f64, f64, f64, u64)>,
}

impl Figures {
    pub fn print(&self) {
        println!("  sent          {:>12.0} messages/s", self.sent);
        println!("  delivered     {:>12.0} deliveries/s", self.delivered);
        if self.typing > 0.0 {
            println!(
                "  typing        {:>12.0} events/s delivered beside",
                self.typing
            );
        }
        println!(
            "  latency       p50 {:.3} ms  p99 {:.3} ms  p999 {:.3} ms  max {:.3} ms  ({} samples)",
            self.p50, self.p99, self.p999, self.max, self.samples
        );
        let (send_p50, send_p99) = self.send_round_trip;
        println!(
            "  send          p50 {send_p50:.3} ms  p99 {send_p99:.3} ms  (send to acknowledgement)"
        );
        if let Some((p50, p99, p999, samples)) = self.raw {
            println!(
                "  raw h2 check  p50 {p50:.3} ms  p99 {p99:.3} ms  p999 {p999:.3} ms  ({samples} samples, raw HTTP/2 readers)"
            );
        }
        if let Some((p50, p99)) = self.cross_node {
            println!("  cross-node    p50 {p50:.3} ms  p99 {p99:.3} ms");
        }
        match (self.cpu, self.peak_mib) {
            (Some(cpu), Some(peak)) => println!(
                "  {:<13} {cpu:.2} CPU-seconds per second ({:.0}% of one core), peak memory {peak:.1} MiB",
                self.server,
                100.0 * cpu
            ),
            _ if !self.processes.is_empty() => {}
            _ => println!(
                "  {:<13} (CPU and memory not visible: give --pid)",
                self.server
            ),
        }
        for (name, cpu) in &self.processes {
            println!("  {name:<13} {cpu:.2} CPU-seconds per second");
        }
        if let Some(per_delivery) = self
            .cpu
            .filter(|_| self.delivered > 0.0)
            .map(|cpu| 1e6 * cpu / self.delivered)
        {
            println!(
                "  per delivery  {per_delivery:.2} µs of {}'s CPU",
                self.server
            );
        }
        if let Some(cpu) = self.bench_cpu {
            println!("  chat-bench    {cpu:.2} CPU-seconds per second (the load generator itself)");
        }
    }
}

/// Runs the load of `args` against `target` once: opens its subscribers
/// and publishers (their names start with `prefix`), warms up, measures,
/// and closes them.
pub async fn measure(args: &FanoutArgs, target: &Target, prefix: &str) -> anyhow::Result<Figures> {
    // Subscriber i and publisher p are on node i (p) modulo the nodes,
    // and in room i (p) over the nodes modulo the rooms, so every room has
    // subscribers and publishers on every node.
    let nodes = match args.protocol {
        Protocol::Classic | Protocol::BareH2 | Protocol::Redis => vec![target.classic],
        Protocol::Native => target.native_nodes.clone(),
    };
    let run = Arc::new(Run {
        base: Instant::now(),
        measuring: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        typing: AtomicU64::new(0),
        stop: watch::channel(false).0,
    });

    eprintln!("opening {} subscribers…", args.subscribers);
    let (subscribers, publishers) = match args.protocol {
        Protocol::Redis => open_redis(args, target.classic, &run).await?,
        _ => open_grpc(args, &nodes, prefix, &run).await?,
    };
    let mut raw_readers = Vec::new();
    for _ in 0..args.raw_readers {
        raw_readers.push(read_raw(target.classic, Arc::clone(&run)).await?);
    }

    eprintln!("warming up for {:?}…", args.warmup);
    tokio::time::sleep(args.warmup).await;
    run.measuring.store(true, Ordering::Relaxed);
    let cpu_before = target.cpu_seconds();
    let bench_before = process_cpu_seconds(std::process::id());
    let processes_before = target.watched_cpu_seconds();
    let started = Instant::now();
    let progress = tokio::spawn(show_progress(Arc::clone(&run)));
    tokio::time::sleep(args.duration).await;
    let elapsed = started.elapsed().as_secs_f64();
    run.measuring.store(false, Ordering::Relaxed);
    let cpu = cpu_before.zip(target.cpu_seconds()).map(|(a, b)| b - a);
    let bench_cpu = bench_before
        .zip(process_cpu_seconds(std::process::id()))
        .map(|(a, b)| (b - a) / elapsed);
    let processes = processes_before
        .into_iter()
        .zip(target.watched_cpu_seconds())
        .map(|((name, before), (_, after))| (name, (after - before) / elapsed))
        .collect();
    let memory = target.memory_kib();
    progress.abort();
    run.stop.send_replace(true);

    let mut latency = latency_histogram()?;
    let mut cross_node = latency_histogram()?;
    for subscriber in subscribers {
        let (same, cross) = subscriber.await?;
        latency.add(&same)?;
        latency.add(&cross)?;
        cross_node.add(cross)?;
    }
    let mut round_trips = latency_histogram()?;
    for publisher in publishers {
        round_trips.add(publisher.await?)?;
    }
    let mut raw = latency_histogram()?;
    for reader in raw_readers {
        raw.add(reader.await?)?;
    }
    let raw_ms = |q: f64| raw.value_at_quantile(q) as f64 / 1e6;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1e6;
    let cross_ms = |q: f64| cross_node.value_at_quantile(q) as f64 / 1e6;
    Ok(Figures {
        cross_node: (nodes.len() > 1).then(|| (cross_ms(0.5), cross_ms(0.99))),
        processes,
        sent: run.sent.load(Ordering::Relaxed) as f64 / elapsed,
        delivered: run.delivered.load(Ordering::Relaxed) as f64 / elapsed,
        typing: run.typing.load(Ordering::Relaxed) as f64 / elapsed,
        p50: ms(0.5),
        p99: ms(0.99),
        p999: ms(0.999),
        max: latency.max() as f64 / 1e6,
        send_round_trip: (
            round_trips.value_at_quantile(0.5) as f64 / 1e6,
            round_trips.value_at_quantile(0.99) as f64 / 1e6,
        ),
        samples: latency.len(),
        server: match args.protocol {
            Protocol::Redis => "redis-server",
            Protocol::BareH2 => "bare h2",
            _ => "chatd",
        },
        cpu: cpu.map(|cpu| cpu / elapsed),
        peak_mib: memory.map(|(_, peak)| peak as f64 / 1024.0),
        bench_cpu,
        raw: (args.raw_readers > 0).then(|| (raw_ms(0.5), raw_ms(0.99), raw_ms(0.999), raw.len())),
    })
}

/// The subscribers' tasks (each gives its latencies when the run stops)
/// and the publishers' (each gives its sends' round trips).
type Opened = (
    Vec<Task<(Histogram<u64>, Histogram<u64>)>>,
    Vec<Task<Histogram<u64>>>,
);

/// Opens the subscribers and publishers of `args` on chatd's `nodes`.
async fn open_grpc(
    args: &FanoutArgs,
    nodes: &[SocketAddr],
    prefix: &str,
    run: &Arc<Run>,
) -> anyhow::Result<Opened> {
    // Connection k is to node k modulo the nodes, so subscriber i's
    // node is i modulo the nodes too when the connections are a multiple.
    let mut channels = Vec::new();
    for k in 0..args.connections.max(nodes.len()) {
        let node = k % nodes.len();
        channels.push((node, connect(nodes[node]).await?));
    }
    if args.protocol == Protocol::Native {
        create_rooms(channels[0].1.clone(), prefix, args.rooms).await?;
    }
    let mut subscribers = Vec::new();
    for i in 0..args.subscribers {
        let (node, channel) = channels[i % channels.len()].clone();
        let subscriber = Subscriber {
            name: format!("{prefix}sub-{i}"),
            room: format!("bench-{}", (i / nodes.len()) % args.rooms),
            node,
        };
        subscribers.push(subscribe(args.protocol, channel, subscriber, Arc::clone(run)).await?);
    }
    let mut publishers = Vec::new();
    for p in 0..args.publishers {
        let node = p % nodes.len();
        let channel = connect(nodes[node]).await?;
        let room = format!("bench-{}", (p / nodes.len()) % args.rooms);
        let name = format!("{prefix}pub-{p}");
        let sender = match args.protocol {
            Protocol::Native => {
                let (mut client, token) = native_login(channel, &name).await?;
                let join = authorized(native::JoinRoomRequest { room: room.clone() }, &token);
                client.join_room(join).await?;
                Sender::Native {
                    client,
                    token,
                    room,
                }
            }
            _ => Sender::Classic {
                client: ChatServerClient::new(channel),
                name,
            },
        };
        publishers.push(publish(sender, node, args, Arc::clone(run))?);
    }
    for t in 0..args.typists {
        let room = format!("bench-{}", (t / nodes.len()) % args.rooms);
        let channel = channels[t % channels.len()].1.clone();
        type_on(channel, format!("{prefix}typist-{t}"), room, run).await?;
    }
    Ok((subscribers, publishers))
}

/// A member of `room` that starts and stops typing in turn, every half
/// second, until the run stops.
async fn type_on(
    channel: Channel,
    name: String,
    room: String,
    run: &Arc<Run>,
) -> anyhow::Result<()> {
    let (mut client, token) = native_login(channel, &name).await?;
    let join = authorized(native::JoinRoomRequest { room: room.clone() }, &token);
    client.join_room(join).await?;
    let stop = run.stop.subscribe();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(500));
        let mut typing = false;
        while !*stop.borrow() {
            ticker.tick().await;
            typing = !typing;
            let request = native::SetTypingRequest {
                room: room.clone(),
                typing,
            };
            let _ = client.set_typing(authorized(request, &token)).await;
        }
    });
    Ok(())
}

/// Opens the subscribers and publishers of `args` on the Redis server at
/// `server`: room r is channel `bench-r`. The connections speak RESP
/// through a codec, with no client library's tasks and queues between the
/// socket and the reader, as `h2` is read by tonic's.
async fn open_redis(
    args: &FanoutArgs,
    server: SocketAddr,
    run: &Arc<Run>,
) -> anyhow::Result<Opened> {
    let mut subscribers = Vec::new();
    for i in 0..args.subscribers {
        let mut connection = redis_connect(server).await?;
        let channel = format!("bench-{}", i % args.rooms);
        connection
            .send(redis_command(&[b"SUBSCRIBE", channel.as_bytes()]))
            .await?;
        match connection.next().await {
            Some(Ok(RespFrame::Array(reply))) if reply.len() == 3 => {}
            other => bail!("SUBSCRIBE {channel} answered {other:?}"),
        }
        let texts = connection
            .take_while(|frame| std::future::ready(frame.is_ok()))
            .filter_map(|frame| std::future::ready(frame.ok().and_then(published_text)));
        subscribers.push(read_deliveries(texts, 0, Arc::clone(run))?);
    }
    let mut publishers = Vec::new();
    for p in 0..args.publishers {
        let sender = Sender::Redis {
            connection: redis_connect(server).await?,
            channel: format!("bench-{}", p % args.rooms).into(),
        };
        publishers.push(publish(sender, 0, args, Arc::clone(run))?);
    }
    Ok((subscribers, publishers))
}

type RedisConnection = Framed<TcpStream, Resp2>;

async fn redis_connect(server: SocketAddr) -> anyhow::Result<RedisConnection> {
    let tcp = TcpStream::connect(server).await?;
    tcp.set_nodelay(true)?;
    Ok(Framed::new(tcp, Resp2::default()))
}

/// A Redis command of `parts`.
fn redis_command(parts: &[&[u8]]) -> RespFrame {
    RespFrame::Array(
        parts
            .iter()
            .map(|part| RespFrame::BulkString(Bytes::copy_from_slice(part)))
            .collect(),
    )
}

/// The text of a message published to a subscribed channel: the frame
/// `message`, channel, payload. Other frames, and payloads that are not
/// text, are not benchmark messages.
fn published_text(frame: RespFrame) -> Option<String> {
    let RespFrame::Array(parts) = frame else {
        return None;
    };
    match <[RespFrame; 3]>::try_from(parts).ok()? {
        [
            RespFrame::BulkString(kind),
            _,
            RespFrame::BulkString(payload),
        ] if kind == "message" => String::from_utf8(payload.to_vec()).ok(),
        _ => None,
    }
}

pub async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?)
}

/// The message text: the send time and the sender's node, then padding
/// to `bytes`.
fn payload(run: &Run, node: usize, bytes: usize) -> String {
    let mut text = format!("{:020} {node:02} ", run.base.elapsed().as_nanos());
    text.extend(std::iter::repeat_n('x', bytes.saturating_sub(text.len())));
    text
}

/// Bytes of [`payload`] before the padding.
const PAYLOAD_HEAD: usize = 24;

/// An empty latency histogram, in nanoseconds from 1 µs to a minute, to
/// two significant digits, its memory taken now. (Grown on the first
/// record instead, a thousand subscribers' histograms took some 100 MB at
/// the first delivery measured, and the run stalled for 100 ms on it:
/// the benchmark measuring itself.)
fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    let mut histogram = Histogram::new_with_bounds(1_000, 60_000_000_000, 2)?;
    histogram.auto(true);
    Ok(histogram)
}

/// A subscriber's latencies: of deliveries from its own node's senders,
/// and from other nodes'.
#[derive(Clone)]
struct Latencies {
    same_node: Histogram<u64>,
    cross_node: Histogram<u64>,
}

/// Records one delivery of `text` (see [`payload`]) to a subscriber on
/// node `node`.
fn delivered(run: &Run, latencies: &mut Latencies, node: usize, text: &str) {
    let Some((latency, from)) = latency_of(run, text) else {
        return;
    };
    let histogram = if from == node {
        &mut latencies.same_node
    } else {
        &mut latencies.cross_node
    };
    let _ = histogram.record(latency);
    run.delivered.fetch_add(1, Ordering::Relaxed);
}

/// While measuring, how long ago `text` (see [`payload`]) was sent, in
/// nanoseconds, and from which node.
fn latency_of(run: &Run, text: &str) -> Option<(u64, usize)> {
    if !run.measuring.load(Ordering::Relaxed) {
        return None;
    }
    let sent = text.get(..20)?.parse::<u64>().ok()?;
    let from = text.get(21..23)?.parse::<usize>().ok()?;
    let now = run.base.elapsed().as_nanos() as u64;
    Some((now.saturating_sub(sent).max(1), from))
}

/// A raw HTTP/2 classic subscriber (see [`RawNotes`]): its latencies,
/// kept apart from the others and out of the delivery count. It runs on
/// a thread of its own, so that the kernel runs it when a note arrives:
/// on the bench's runtime it would wait its turn behind the tonic
/// subscribers that got the same message, and measure them, not chatd.
async fn read_raw(server: SocketAddr, run: Arc<Run>) -> anyhow::Result<Task<Histogram<u64>>> {
    let latencies = latency_histogram()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (opened, open) = tokio::sync::oneshot::channel();
    let reader = tokio::task::spawn_blocking(move || {
        runtime.block_on(async {
            match RawNotes::open(server).await {
                Ok(notes) => {
                    let _ = opened.send(Ok(()));
                    record_latencies(notes, &run, latencies).await
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                    latencies
                }
            }
        })
    });
    open.await.context("the raw reader's thread ended")??;
    Ok(reader)
}

/// Records the latency of each note of `notes` in `latencies` until the
/// run stops or the stream ends.
async fn record_latencies(
    mut notes: RawNotes,
    run: &Run,
    mut latencies: Histogram<u64>,
) -> Histogram<u64> {
    let mut stop = run.stop.subscribe();
    loop {
        tokio::select! {
            _ = stop.wait_for(|&s| s) => return latencies,
            note = notes.next() => match note {
                Ok(Some(note)) => {
                    if let Some((latency, _)) = latency_of(run, &note.message) {
                        let _ = latencies.record(latency);
                    }
                }
                _ => return latencies,
            },
        }
    }
}

/// Who a subscriber is, where.
struct Subscriber {
    name: String,
    room: String,
    node: usize,
}

type Task<T> = tokio::task::JoinHandle<T>;

async fn subscribe(
    protocol: Protocol,
    channel: Channel,
    Subscriber { name, room, node }: Subscriber,
    run: Arc<Run>,
) -> anyhow::Result<Task<(Histogram<u64>, Histogram<u64>)>> {
    match protocol {
        Protocol::Native => {
            let (mut client, token) = native_login(channel, &name).await?;
            let join = authorized(native::JoinRoomRequest { room: room.clone() }, &token);
            client.join_room(join).await?;
            let subscribe = authorized(native::SubscribeRequest::default(), &token);
            let events = client.subscribe(subscribe).await?.into_inner();
            let typing_run = Arc::clone(&run);
            let texts = events.take_while(is_ok).filter_map(move |event| {
                std::future::ready(match event {
                    Ok(native::Event {
                        event: Some(native::event::Event::Message(message)),
                    }) => Some(message.text),
                    Ok(native::Event {
                        event: Some(native::event::Event::Typing(_)),
                    }) => {
                        if typing_run.measuring.load(Ordering::Relaxed) {
                            typing_run.typing.fetch_add(1, Ordering::Relaxed);
                        }
                        None
                    }
                    _ => None,
                })
            });
            read_deliveries(texts, node, run)
        }
        _ => {
            let notes = ChatServerClient::new(channel)
                .chat_stream(Empty {})
                .await?
                .into_inner();
            let texts = notes
                .take_while(is_ok)
                .filter_map(|note| std::future::ready(note.ok().map(|note| note.message)));
            read_deliveries(texts, node, run)
        }
    }
}

/// Whether a stream's item is not an error: an error ends the subscriber,
/// as the stream's end does.
fn is_ok<T>(item: &Result<T, tonic::Status>) -> std::future::Ready<bool> {
    std::future::ready(item.is_ok())
}

/// Records each of `texts` (see [`payload`]) as a delivery to a
/// subscriber on node `node`, until the run stops or `texts` ends.
fn read_deliveries(
    texts: impl Stream<Item = String> + Send + 'static,
    node: usize,
    run: Arc<Run>,
) -> anyhow::Result<Task<(Histogram<u64>, Histogram<u64>)>> {
    let mut stop = run.stop.subscribe();
    let mut latencies = Latencies {
        same_node: latency_histogram()?,
        cross_node: latency_histogram()?,
    };
    Ok(tokio::spawn(async move {
        let mut texts = std::pin::pin!(texts);
        loop {
            tokio::select! {
                _ = stop.wait_for(|&s| s) => return latencies.into(),
                text = texts.next() => match text {
                    Some(text) => delivered(&run, &mut latencies, node, &text),
                    None => return latencies.into(),
                },
            }
        }
    }))
}

/// A publisher's way to send one message, and wait until it is taken.
enum Sender {
    Classic {
        client: ChatServerClient<Channel>,
        name: String,
    },
    Native {
        client: ChatServiceClient<Channel>,
        token: String,
        room: String,
    },
    Redis {
        connection: RedisConnection,
        channel: Bytes,
    },
}

impl Sender {
    /// Sends `text`; whether it was taken.
    async fn send(&mut self, text: String) -> bool {
        match self {
            Sender::Classic { client, name } => client
                .send_note(Note {
                    name: name.clone(),
                    message: text,
                })
                .await
                .is_ok(),
            Sender::Native {
                client,
                token,
                room,
            } => {
                let request = authorized(
                    native::SendMessageRequest {
                        room: room.clone(),
                        text,
                        ..Default::default()
                    },
                    token,
                );
                client.send_message(request).await.is_ok()
            }
            Sender::Redis {
                connection,
                channel,
            } => {
                let publish = redis_command(&[b"PUBLISH", channel, text.as_bytes()]);
                connection.send(publish).await.is_ok()
                    && matches!(connection.next().await, Some(Ok(RespFrame::Integer(_))))
            }
        }
    }
}

/// Sends through `sender`, from node `node`, at the rate of `args` (or
/// back to back) until the run stops; gives the round trips of the sends
/// made while measuring (send to acknowledgement).
fn publish(
    mut sender: Sender,
    node: usize,
    args: &FanoutArgs,
    run: Arc<Run>,
) -> anyhow::Result<Task<Histogram<u64>>> {
    let bytes = args.message_bytes;
    let mut pace = (args.rate > 0).then(|| {
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    });
    let stop = run.stop.subscribe();
    let mut round_trips = latency_histogram()?;
    Ok(tokio::spawn(async move {
        while !*stop.borrow() {
            if let Some(pace) = &mut pace {
                pace.tick().await;
            }
            let started = Instant::now();
            let sent = sender.send(payload(&run, node, bytes)).await;
            if sent && run.measuring.load(Ordering::Relaxed) {
                run.sent.fetch_add(1, Ordering::Relaxed);
                let _ = round_trips.record((started.elapsed().as_nanos() as u64).max(1));
            }
        }
        round_trips
    }))
}

/// Creates rooms `bench-0` to `bench-{rooms - 1}` (those not there yet)
/// under an account of their own: only accounts create rooms.
async fn create_rooms(channel: Channel, prefix: &str, rooms: usize) -> anyhow::Result<()> {
    let mut client = ChatServiceClient::new(channel);
    // A throwaway account: nobody logs in to it again.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let registered = client
        .register(native::RegisterRequest {
            name: format!("{prefix}owner-{}", std::process::id()),
            password: format!("bench-{nanos}"),
        })
        .await?;
    let token = registered.into_inner().session_token;
    for i in 0..rooms {
        let create = native::CreateRoomRequest {
            room: format!("bench-{i}"),
            private: false,
        };
        match client.create_room(authorized(create, &token)).await {
            Err(status) if status.code() != tonic::Code::AlreadyExists => return Err(status.into()),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) async fn native_login(
    channel: Channel,
    name: &str,
) -> anyhow::Result<(ChatServiceClient<Channel>, String)> {
    let mut client = ChatServiceClient::new(channel);
    let login = client
        .login(native::LoginRequest {
            name: name.into(),
            ..Default::default()
        })
        .await?;
    Ok((client, login.into_inner().session_token))
}

pub(crate) fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a token is ASCII"),
    );
    request
}

async fn show_progress(run: Arc<Run>) {
    let mut last = (0, 0);
    let mut seconds = 0;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        seconds += 1;
        let now = (
            run.sent.load(Ordering::Relaxed),
            run.delivered.load(Ordering::Relaxed),
        );
        eprintln!(
            "  {seconds:>3}s  sent {:>9}/s  delivered {:>10}/s",
            now.0 - last.0,
            now.1 - last.1
        );
        last = now;
    }
}

impl From<Latencies> for (Histogram<u64>, Histogram<u64>) {
    fn from(latencies: Latencies) -> Self {
        (latencies.same_node, latencies.cross_node)
    }
}
