//! A node of a cluster. PostgreSQL holds everything durable, and each
//! node's lease and the names its guests hold; NATS carries what the nodes
//! tell each other: the messages each stored (`chatd.messages`, a
//! `chat.v1.Message` each) and news of what each changed in memory
//! (`chatd.news`, a `chat.cluster.v1.News` each). The engine shows the
//! other nodes' messages in order and reads from the database whatever the
//! broker lost.
//!
//! Presence: each node tells the others when its users come and go, and
//! its whole roster when a node says hello (at its start, or when it finds
//! the broker again). A node whose lease ends (it died, or lost the
//! database) is gone for the others: its users are offline and its guests'
//! names free.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
mod ledger;

use chat_engine::{Engine, EngineError, Message, News, ReadMarker, Relay, name_key};
use chat_proto::chat::cluster::v1 as wire;
use futures::StreamExt;
use prost::Message as _;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::accounts::{AccountNews, AccountRelay};
use crate::health::Check;
use crate::lobby::{HubError, UserIndexes};
use crate::native::convert;
use crate::sessions::Sessions;
use crate::web::PeerOrigins;
use ledger::{Ledger, PostgresLedger};

/// Where nodes publish the messages they stored.
const MESSAGES: &str = "chatd.messages";
/// Where nodes publish their news.
const NEWS: &str = "chatd.news";
/// Both, in one subscription, so each node's messages and news arrive in
/// the order it published them.
const EVERYTHING: &str = "chatd.*";

/// Messages and news waiting to be published, at most: past it (the
/// broker is down or slow) they are dropped. The other nodes read dropped
/// messages from the database when the next one shows the gap.
const PUBLISH_BACKLOG: usize = 16 * 1024;
/// News from the other nodes waiting to be applied, at most.
const NEWS_BACKLOG: usize = 4 * 1024;

/// Users in one part of a roster: a part stays well under NATS's default
/// largest message (1 MiB).
const ROSTER_PART: usize = 1000;

/// How long a node's lease lasts, and how often it renews it: a node that
/// dies is gone for the others within `LEASE` and a renewal.
const LEASE: Duration = Duration::from_secs(5);
const RENEW_EVERY: Duration = Duration::from_secs(1);

/// Where browsers reach this node's web client (`None` if it serves
/// none), told to the other nodes; and their web origins, as this node
/// learns them.
pub struct WebPeers {
    pub url: Option<String>,
    pub peers: PeerOrigins,
}

/// This node of a cluster: its id, its broker connection and the
/// database it shares with the others.
pub struct Node {
    shared: Arc<Shared>,
    /// Subscribed when the node joins, so that nothing another node
    /// publishes once this one serves is missed.
    incoming: async_nats::Subscriber,
}

struct Shared {
    id: u64,
    client: async_nats::Client,
    ledger: Arc<dyn Ledger>,
    outgoing: mpsc::Sender<(&'static str, Bytes)>,
    /// The names this node's guests hold: by `name_key`, the name and its
    /// holding.
    held: Mutex<HashMap<String, (String, u64)>>,
    /// Holdings let go of here but not yet in the database (it was down).
    unreleased: Mutex<Vec<(String, u64)>>,
    /// Told when the others must hear of this node as if it had just
    /// started: the broker connection is (re)established, or its lease
    /// had lapsed.
    say_hello: Arc<Notify>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Joins the cluster of the nodes sharing the database at
    /// `database_url`, through NATS at `url` (`nats://host:4222`, or
    /// several, comma separated): takes a lease and connects. The node
    /// does not hear its own publications.
    pub async fn join(url: &str, database_url: &str) -> Result<Self, String> {
        let ledger: Arc<dyn Ledger> =
            Arc::new(PostgresLedger::connect(database_url).map_err(|e| e.to_string())?);
        // Positive as a signed number, as the database keeps it.
        let id = rand::random::<u64>() >> 1;
        ledger
            .renew_lease(id, "", LEASE)
            .await
            .map_err(|error| error.to_string())?;
        let say_hello = Arc::new(Notify::new());
        let on_event = Arc::clone(&say_hello);
        let client = async_nats::ConnectOptions::new()
            .no_echo()
            .connection_timeout(Duration::from_secs(5))
            .name("chatd")
            .event_callback(move |event| {
                let on_event = Arc::clone(&on_event);
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("connected to NATS");
                            on_event.notify_one();
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("lost NATS; reconnecting");
                        }
                        other => tracing::debug!(event = %other, "NATS"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|error| format!("cannot reach NATS at {url}: {error}"))?;
        let (outgoing, mut queue) = mpsc::channel::<(&'static str, Bytes)>(PUBLISH_BACKLOG);
        let publisher = client.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = queue.recv().await {
                if let Err(error) = publisher.publish(subject, payload).await {
                    tracing::warn!(%error, subject, "cannot publish to NATS");
                }
            }
        });
        // The round trip after subscribing makes the broker hold the
        // subscription before this node serves anyone.
        let incoming = client
            .subscribe(EVERYTHING)
            .await
            .map_err(|error| format!("cannot follow the other nodes: {error}"))?;
        client
            .flush()
            .await
            .map_err(|error| format!("cannot follow the other nodes: {error}"))?;
        tracing::info!(node = id, "joined the cluster");
        Ok(Node {
            incoming,
            shared: Arc::new(Shared {
                id,
                client,
                ledger,
                outgoing,
                held: Mutex::default(),
                unreleased: Mutex::default(),
                say_hello,
            }),
        })
    }

    /// A health check: whether the broker connection is up and answers a
    /// ping.
    pub fn connection_check(&self) -> Check {
        let client = self.shared.client.clone();
        Box::new(move || {
            let client = client.clone();
            Box::pin(async move {
                match client.connection_state() {
                    // A round trip: PING, and PONG back.
                    async_nats::connection::State::Connected => {
                        client.flush().await.map_err(|error| error.to_string())
                    }
                    other => Err(format!("not connected ({other})")),
                }
            })
        })
    }

    /// Lobby users' indexes, from a sequence in the database.
    pub fn user_indexes(&self) -> Arc<dyn UserIndexes> {
        Arc::new(SharedIndexes {
            ledger: Arc::clone(&self.shared.ledger),
        })
    }

    /// What the accounts hand their news to.
    pub fn account_relay(&self) -> Arc<dyn AccountRelay> {
        Arc::new(NodeRelay {
            shared: Arc::clone(&self.shared),
        })
    }

    /// What the engine hands its stored messages and news to.
    pub fn relay(&self) -> Arc<dyn Relay> {
        Arc::new(NodeRelay {
            shared: Arc::clone(&self.shared),
        })
    }

    /// Follows the other nodes until `shutdown`: shows their messages,
    /// applies their news, keeps this node's lease (with where its web
    /// client is) and learns whose have ended and where theirs are. Gives
    /// up its lease at shutdown, so the others need not wait for it to end.
    pub async fn follow(
        self,
        engine: Engine,
        sessions: Sessions,
        web: WebPeers,
        shutdown: CancellationToken,
    ) {
        let mut incoming = self.incoming;
        let (news_queue, news) = mpsc::channel(NEWS_BACKLOG);
        let (leases, mut renewed) = mpsc::channel(1);
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(apply_news(
            Arc::clone(&self.shared),
            engine.clone(),
            sessions,
            news,
        ));
        tasks.spawn(renew_lease(Arc::clone(&self.shared), web, leases));
        loop {
            tokio::select! {
                next = incoming.next() => {
                    let Some(next) = next else { break };
                    if next.subject.as_str() == MESSAGES {
                        show_message(&engine, next.payload);
                    } else if news_queue.try_send(Incoming::News(next.payload)).is_err() {
                        tracing::warn!("too much news from the other nodes: some dropped");
                    }
                }
                Some(live_nodes) = renewed.recv() => {
                    // Waits rather than drops: it is rare and says who died.
                    if news_queue.send(Incoming::LiveNodes(live_nodes)).await.is_err() {
                        break;
                    }
                }
                () = self.shared.say_hello.notified() => self.shared.say_hello(&engine),
                () = shutdown.cancelled() => break,
            }
        }
        tasks.abort_all();
        if let Err(error) = self.shared.ledger.end_lease(self.shared.id).await {
            tracing::warn!(%error, "cannot give up the node's lease");
        }
    }
}

impl Shared {
    fn send(&self, subject: &'static str, payload: Vec<u8>) {
        if self.outgoing.try_send((subject, payload.into())).is_err() {
            tracing::debug!(subject, "broker backlog full: not published");
        }
    }

    fn announce(&self, news: wire::news::News) {
        let news = wire::News {
            node: self.id,
            news: Some(news),
        };
        self.send(NEWS, news.encode_to_vec());
    }

    /// Says hello (the others answer with their rosters) and gives this
    /// node's roster.
    fn say_hello(&self, engine: &Engine) {
        self.announce(wire::news::News::Hello(wire::Hello {}));
        self.give_roster(engine);
    }

    fn give_roster(&self, engine: &Engine) {
        let users: Vec<wire::RosterUser> = engine
            .names()
            .users_here()
            .into_iter()
            .map(|user| wire::RosterUser {
                name: user.name,
                online: user.online,
                rooms: user.rooms,
            })
            .collect();
        let id = rand::random();
        let parts = users.len().div_ceil(ROSTER_PART).max(1);
        let mut users = users.into_iter();
        for part in 0..parts {
            self.announce(wire::news::News::Roster(wire::Roster {
                users: users.by_ref().take(ROSTER_PART).collect(),
                id,
                part: u32::try_from(part).unwrap_or(u32::MAX),
                last: part + 1 == parts,
            }));
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, (String, u64)>> {
        // Single inserts and removes: never left half-done.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unreleased(&self) -> MutexGuard<'_, Vec<(String, u64)>> {
        self.unreleased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets go of the holdings let go of here, in the database; keeps
    /// those it cannot for the next try.
    async fn release_unreleased(&self) {
        let holdings = std::mem::take(&mut *self.unreleased());
        for (key, hold) in holdings {
            if let Err(error) = self.ledger.release_guest_name(&key, hold).await {
                tracing::debug!(%error, "cannot let go of a name yet");
                self.unreleased().push((key, hold));
            }
        }
    }

    /// Holds again the names this node's guests hold, after its lease
    /// lapsed (the others may have taken some: those are logged; both
    /// guests keep their sessions).
    async fn hold_again(&self) {
        let held: Vec<(String, (String, u64))> = self
            .held()
            .iter()
            .map(|(key, held)| (key.clone(), held.clone()))
            .collect();
        for (key, (name, hold)) in held {
            match self
                .ledger
                .hold_guest_name(self.id, &key, &name, hold)
                .await
            {
                Ok(None) => {}
                Ok(Some(holder)) => {
                    tracing::warn!(
                        name,
                        holder,
                        "a guest's name was taken while the lease lapsed"
                    );
                }
                Err(error) => tracing::warn!(%error, "cannot hold a guest's name again"),
            }
        }
    }
}

/// Shows an entry (a message or a change to one) another node stored.
fn show_message(engine: &Engine, payload: Bytes) {
    let entry = wire::Entry::decode(payload).ok().and_then(|entry| {
        let (room, mut message) = convert::entry_from_node(entry.event?)?;
        message.ordinal = entry.ordinal;
        Some((room, message))
    });
    match entry {
        Some((room, entry)) => engine.deliver_remote(&room, Arc::new(entry)),
        None => tracing::warn!("ignoring an undecodable message from NATS"),
    }
}

enum Incoming {
    News(Bytes),
    /// The nodes whose leases have not ended, after a renewal.
    LiveNodes(Vec<u64>),
}

/// Applies the other nodes' news in the order they come, and keeps who is
/// online on each.
async fn apply_news(
    shared: Arc<Shared>,
    engine: Engine,
    sessions: Sessions,
    mut incoming: mpsc::Receiver<Incoming>,
) {
    let mut peers = Peers::default();
    while let Some(next) = incoming.recv().await {
        let payload = match next {
            Incoming::News(payload) => payload,
            Incoming::LiveNodes(live) => {
                peers.keep_only(&engine, &live).await;
                continue;
            }
        };
        let (node, news) = match wire::News::decode(payload) {
            Ok(wire::News {
                node,
                news: Some(news),
            }) => (node, news),
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%error, "ignoring undecodable news from NATS");
                continue;
            }
        };
        use wire::news::News as N;
        let news = match news {
            N::Presence(wire::Presence { name, online }) => {
                peers.presence(&engine, node, &name, online);
                continue;
            }
            N::Roster(part) => {
                if let Some(users) = peers.roster_part(node, part) {
                    peers.roster(&engine, node, users).await;
                }
                continue;
            }
            N::Hello(wire::Hello {}) => {
                shared.give_roster(&engine);
                continue;
            }
            N::Joined(wire::RoomMember { room, name }) => {
                peers.joined(&engine, node, room, name).await;
                continue;
            }
            N::Left(wire::RoomMember { room, name }) => {
                sessions.left_elsewhere(&room, &name);
                peers.left(&engine, node, room, name).await;
                continue;
            }
            N::AccountChanged(name) => {
                sessions.account_changed_elsewhere(&name).await;
                continue;
            }
            N::SessionsEnded(wire::SessionsEnded { token_hashes }) => {
                sessions.sessions_ended_elsewhere(&token_hashes);
                continue;
            }
            N::Moderated(wire::Moderated {
                room,
                actor,
                action,
            }) => match convert::action_from_wire(action) {
                Ok(action) => News::Moderated {
                    room,
                    actor,
                    action,
                },
                Err(error) => {
                    tracing::warn!(%error, "ignoring a room change from NATS");
                    continue;
                }
            },
            N::RoomSaved(room) => News::RoomSaved(room),
            N::Forgotten(wire::Forgotten { name, account }) => News::Forgotten { name, account },
            N::Typing(wire::Typing { room, name, typing }) => News::Typing { room, name, typing },
            N::MarkerMoved(wire::MarkerMoved {
                account,
                room,
                seq,
                ordinal,
            }) => {
                let marker = ReadMarker {
                    account,
                    room,
                    seq,
                    ordinal,
                };
                sessions.marker_moved_elsewhere(marker);
                continue;
            }
            N::NotifySet(wire::NotifySet {
                account,
                room,
                level,
            }) => {
                match chat_engine::NotifyLevel::parse(&level) {
                    Some(level) => sessions.notify_set_elsewhere(&account, &room, level),
                    None => {
                        tracing::warn!(level, "ignoring an unknown notification level from NATS")
                    }
                }
                continue;
            }
        };
        engine.apply_news(news).await;
    }
}

/// Renews this node's lease every [`RENEW_EVERY`] and says which nodes
/// are live, and where their web clients are; when its own had lapsed,
/// holds its guests' names again and says hello, as the others will have
/// taken it for gone.
async fn renew_lease(
    shared: Arc<Shared>,
    WebPeers { url, peers }: WebPeers,
    live_nodes: mpsc::Sender<Vec<u64>>,
) {
    let url = url.unwrap_or_default();
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match shared.ledger.renew_lease(shared.id, &url, LEASE).await {
            Ok(lease) => {
                peers.set(&lease.peer_urls);
                if lease.lapsed {
                    tracing::warn!("the node's lease had lapsed: holding its names again");
                    shared.hold_again().await;
                    shared.say_hello.notify_one();
                }
                shared.release_unreleased().await;
                if live_nodes.send(lease.live_nodes).await.is_err() {
                    return;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot renew the node's lease"),
        }
    }
}

/// The users of each other node, as its news and rosters tell.
#[derive(Default)]
struct Peers {
    nodes: HashMap<u64, HashMap<String, PeerUser>>,
    /// Each node's roster coming in parts: its id, the next part's
    /// number, and the users so far.
    rosters: HashMap<u64, (u64, u32, Vec<wire::RosterUser>)>,
}

#[derive(Default)]
struct PeerUser {
    online: bool,
    rooms: HashSet<String>,
}

impl Peers {
    fn user(&mut self, node: u64, name: &str) -> &mut PeerUser {
        self.nodes
            .entry(node)
            .or_default()
            .entry(name.to_owned())
            .or_default()
    }

    async fn joined(&mut self, engine: &Engine, node: u64, room: String, name: String) {
        self.user(node, &name).rooms.insert(room.clone());
        engine.apply_news(News::Joined { room, name }).await;
    }

    async fn left(&mut self, engine: &Engine, node: u64, room: String, name: String) {
        self.user(node, &name).rooms.remove(&room);
        engine.apply_news(News::Left { room, name }).await;
    }

    fn presence(&mut self, engine: &Engine, node: u64, name: &str, online: bool) {
        self.user(node, name).online = online;
        self.tell(engine, name);
    }

    /// Gathers the parts of `node`'s roster; all its users once the last
    /// part has come, in order. A roster with a part lost is dropped (the
    /// node's next one starts afresh).
    fn roster_part(&mut self, node: u64, part: wire::Roster) -> Option<Vec<wire::RosterUser>> {
        if part.part == 0 {
            self.rosters.insert(node, (part.id, 0, Vec::new()));
        }
        let (id, next, users) = self.rosters.get_mut(&node)?;
        if *id != part.id || *next != part.part {
            self.rosters.remove(&node);
            return None;
        }
        *next += 1;
        users.extend(part.users);
        if !part.last {
            return None;
        }
        self.rosters.remove(&node).map(|(_, _, users)| users)
    }

    /// Takes `users` as all of `node`'s: what this node missed of them is
    /// made up (joins, leaves, presence, users gone).
    async fn roster(&mut self, engine: &Engine, node: u64, users: Vec<wire::RosterUser>) {
        let users: HashMap<String, PeerUser> = users
            .into_iter()
            .map(|user| {
                let peer = PeerUser {
                    online: user.online,
                    rooms: user.rooms.into_iter().collect(),
                };
                (user.name, peer)
            })
            .collect();
        let before = self.nodes.insert(node, users).unwrap_or_default();
        let now = &self.nodes[&node];
        let mut news = Vec::new();
        let mut gone = Vec::new();
        for (name, user) in &before {
            match now.get(name) {
                Some(still) => {
                    news.extend(user.rooms.difference(&still.rooms).map(|room| News::Left {
                        room: room.clone(),
                        name: name.clone(),
                    }))
                }
                None => gone.push(name.clone()),
            }
        }
        for (name, user) in now {
            news.extend(user.rooms.iter().map(|room| News::Joined {
                room: room.clone(),
                name: name.clone(),
            }));
        }
        for news in news {
            engine.apply_news(news).await;
        }
        let names: Vec<String> = now.keys().cloned().collect();
        for name in names {
            self.tell(engine, &name);
        }
        for name in gone {
            self.gone(engine, &name, &before[&name]).await;
        }
    }

    /// Forgets the nodes not in `live`, whose leases ended.
    async fn keep_only(&mut self, engine: &Engine, live: &[u64]) {
        let ended: Vec<u64> = self
            .nodes
            .keys()
            .filter(|node| !live.contains(node))
            .copied()
            .collect();
        for node in ended {
            tracing::info!(node, "a node's lease ended: its users are gone");
            self.rosters.remove(&node);
            let users = self.nodes.remove(&node).unwrap_or_default();
            for (name, user) in &users {
                self.gone(engine, name, user).await;
            }
        }
    }

    /// A user of another node is gone with it (or its session ended
    /// unheard): a guest leaves its rooms, as its session is over; an
    /// account stays in them, offline unless online elsewhere.
    async fn gone(&self, engine: &Engine, name: &str, user: &PeerUser) {
        if !engine.is_account(name) {
            for room in &user.rooms {
                engine
                    .apply_news(News::Left {
                        room: room.clone(),
                        name: name.to_owned(),
                    })
                    .await;
            }
            engine
                .apply_news(News::Forgotten {
                    name: name.to_owned(),
                    account: false,
                })
                .await;
        }
        self.tell(engine, name);
    }

    /// Tells the engine whether `name` is online on any other node.
    fn tell(&self, engine: &Engine, name: &str) {
        let anywhere = self
            .nodes
            .values()
            .any(|users| users.get(name).is_some_and(|user| user.online));
        engine.set_online_elsewhere(name, anywhere);
    }
}

impl AccountRelay for NodeRelay {
    fn announce(&self, news: AccountNews) {
        use wire::news::News as N;
        self.shared.announce(match news {
            AccountNews::Changed(name) => N::AccountChanged(name),
            AccountNews::SessionsEnded(token_hashes) => {
                N::SessionsEnded(wire::SessionsEnded { token_hashes })
            }
            AccountNews::MarkerMoved(marker) => N::MarkerMoved(wire::MarkerMoved {
                account: marker.account,
                room: marker.room,
                seq: marker.seq,
                ordinal: marker.ordinal,
            }),
            AccountNews::NotifySet {
                account,
                room,
                level,
            } => N::NotifySet(wire::NotifySet {
                account,
                room,
                level: level.as_str().to_owned(),
            }),
        });
    }
}

/// The engine's (and the accounts') way to the other nodes.
struct NodeRelay {
    shared: Arc<Shared>,
}

#[async_trait]
impl Relay for NodeRelay {
    fn publish(&self, room: &str, message: &Arc<Message>) {
        let payload = wire::Entry {
            event: Some(convert::entry_to_node(room, message)),
            ordinal: message.ordinal,
        }
        .encode_to_vec();
        self.shared.send(MESSAGES, payload);
    }

    fn announce(&self, news: News) {
        use wire::news::News as N;
        let member = |room, name| wire::RoomMember { room, name };
        self.shared.announce(match news {
            News::Joined { room, name } => N::Joined(member(room, name)),
            News::Left { room, name } => N::Left(member(room, name)),
            News::Presence { name, online } => N::Presence(wire::Presence { name, online }),
            News::Moderated {
                room,
                actor,
                action,
            } => N::Moderated(wire::Moderated {
                room,
                actor,
                action: Some(convert::action_to_wire(&action)),
            }),
            News::RoomSaved(room) => N::RoomSaved(room),
            News::Forgotten { name, account } => N::Forgotten(wire::Forgotten { name, account }),
            News::Typing { room, name, typing } => N::Typing(wire::Typing { room, name, typing }),
        });
    }

    async fn hold_name(&self, name: &str) -> Result<(), EngineError> {
        let key = name_key(name);
        let hold = rand::random::<u64>() >> 1;
        let shared = &self.shared;
        match shared
            .ledger
            .hold_guest_name(shared.id, &key, name, hold)
            .await?
        {
            None => {
                shared.held().insert(key, (name.to_owned(), hold));
                Ok(())
            }
            Some(holder) => Err(EngineError::NameTaken {
                name: name.to_owned(),
                holder,
            }),
        }
    }

    fn release_name(&self, name: &str) {
        let Some((_, hold)) = self.shared.held().remove(&name_key(name)) else {
            return;
        };
        self.shared.unreleased().push((name_key(name), hold));
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move { shared.release_unreleased().await });
    }
}

/// Lobby users' indexes, given once in the cluster.
struct SharedIndexes {
    ledger: Arc<dyn Ledger>,
}

#[async_trait]
impl UserIndexes for SharedIndexes {
    async fn next_index(&self) -> Result<i32, HubError> {
        let index = self
            .ledger
            .next_lobby_index()
            .await
            .map_err(EngineError::from)?;
        i32::try_from(index).map_err(|_| HubError::IndexesExhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(id: u64, part: u32, last: bool, names: &[&str]) -> wire::Roster {
        wire::Roster {
            users: names
                .iter()
                .map(|name| wire::RosterUser {
                    name: (*name).into(),
                    online: true,
                    rooms: Vec::new(),
                })
                .collect(),
            id,
            part,
            last,
        }
    }

    fn names(users: Option<Vec<wire::RosterUser>>) -> Option<Vec<String>> {
        users.map(|users| users.into_iter().map(|user| user.name).collect())
    }

    #[test]
    fn a_roster_is_taken_whole_or_not_at_all() {
        let mut peers = Peers::default();
        assert_eq!(peers.roster_part(1, part(7, 0, false, &["ann"])), None);
        let whole = peers.roster_part(1, part(7, 1, true, &["bob"]));
        assert_eq!(names(whole), Some(vec!["ann".into(), "bob".into()]));

        // A part lost: that roster is dropped, the next one is taken.
        assert_eq!(peers.roster_part(1, part(8, 0, false, &["ann"])), None);
        assert_eq!(peers.roster_part(1, part(8, 2, true, &["carl"])), None);
        assert_eq!(peers.roster_part(1, part(8, 1, false, &["bob"])), None);
        let next = peers.roster_part(1, part(9, 0, true, &["dave"]));
        assert_eq!(names(next), Some(vec!["dave".into()]));

        // Another node's parts do not mix in.
        assert_eq!(peers.roster_part(1, part(10, 0, false, &["ann"])), None);
        assert_eq!(
            names(peers.roster_part(2, part(11, 0, true, &["erin"]))),
            Some(vec!["erin".into()])
        );
        assert_eq!(
            names(peers.roster_part(1, part(10, 1, true, &["bob"]))),
            Some(vec!["ann".into(), "bob".into()])
        );
    }
}
