//! The task that keeps a client's session and event stream alive.

use std::sync::Arc;

use chat_proto::chat::v1 as wire;
use chat_proto::chat::v1::event::Event as Kind;
use tokio::sync::mpsc;
use tonic::{Code, Streaming};

use crate::connection::{Shared, authorized};
use crate::error::is_transient;
use crate::{ChatMessage, ClientError, ClientEvent, Connection, Member, RoomInfo};

/// Follows the session until the application drops its event receiver or
/// logs out: subscribes, forwards events, and after any failure reconnects
/// with back-off, logging in again if the session ended.
pub(crate) async fn run(shared: Arc<Shared>, events: mpsc::Sender<ClientEvent>) {
    let (first_wait, longest_wait) = shared.config.backoff;
    let mut wait = first_wait;
    loop {
        if !say(&events, ClientEvent::Connection(Connection::Connecting)).await {
            return;
        }
        let reason = match follow(&shared, &events).await {
            Ended::Stop => return,
            Ended::Reconnect {
                reason,
                was_online,
                lost_server,
            } => {
                if was_online {
                    wait = first_wait;
                }
                // Another node of a cluster, if several were given.
                if lost_server {
                    shared.next_server();
                }
                reason
            }
        };
        let offline = Connection::Offline {
            reason,
            retry_in: wait,
        };
        if !say(&events, ClientEvent::Connection(offline)).await {
            return;
        }
        let mut auth = shared.auth.subscribe();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = events.closed() => return,
            _ = auth.wait_for(|auth| auth.closed) => return,
        }
        wait = (wait * 2).min(longest_wait);
    }
}

enum Ended {
    Stop,
    Reconnect {
        reason: String,
        was_online: bool,
        /// The server failed or went away (rather than the session).
        lost_server: bool,
    },
}

/// One connection's worth of following: (re)login if needed, subscribe
/// with the cursors, forward events until the stream ends.
async fn follow(shared: &Shared, events: &mpsc::Sender<ClientEvent>) -> Ended {
    // Logs in again if the session ended, until there is a token.
    let token = loop {
        let auth = shared.auth.borrow().clone();
        if auth.closed {
            return Ended::Stop;
        }
        if let Some(token) = auth.token {
            break token;
        }
        if let Err(error) = shared.login(events).await {
            let lost_server = match &error {
                ClientError::Unreachable { .. } => true,
                ClientError::Refused { code, .. } => *code != Code::Unauthenticated,
                _ => false,
            };
            return reconnect(error.to_string(), false, lost_server);
        }
    };
    let cursors = shared
        .cursors()
        .iter()
        .map(|(room, &last_seq)| wire::RoomCursor {
            room: room.clone(),
            last_seq,
        })
        .collect();
    let stream = shared
        .rpc()
        .subscribe(authorized(wire::SubscribeRequest { cursors }, &token))
        .await;
    let mut stream = match stream {
        Ok(stream) => stream.into_inner(),
        Err(status) => return failed(shared, status, false),
    };
    if !say(events, ClientEvent::Connection(Connection::Online)).await {
        return Ended::Stop;
    }
    forward(shared, events, &mut stream).await
}

/// Forwards the stream's events, dropping any message already delivered.
async fn forward(
    shared: &Shared,
    events: &mpsc::Sender<ClientEvent>,
    stream: &mut Streaming<wire::Event>,
) -> Ended {
    loop {
        let received = tokio::select! {
            received = stream.message() => received,
            () = events.closed() => return Ended::Stop,
        };
        let event = match received {
            Ok(Some(wire::Event { event: Some(event) })) => event,
            Ok(Some(_)) => continue,
            Ok(None) => return reconnect("the server ended the stream".into(), true, true),
            Err(status) => return failed(shared, status, true),
        };
        let Some(event) = translate(shared, event) else {
            continue;
        };
        if !say(events, event).await {
            return Ended::Stop;
        }
    }
}

/// The application's view of a server event, keeping the cursors and the
/// room list up to date; `None` for a message already delivered. Every
/// name in it is made [printable](crate::printable) (the server's room
/// names are printable already, so calls can use them as they are).
fn translate(shared: &Shared, event: Kind) -> Option<ClientEvent> {
    let event = printable_event(event);
    Some(match event {
        Kind::Message(message) => {
            if !shared.move_cursor(&message.room, message.seq) {
                return None;
            }
            ClientEvent::Message(ChatMessage::from(message))
        }
        Kind::MessageUpdated(wire::MessageUpdated { message, seq }) => {
            let message = message?;
            if !shared.move_cursor(&message.room, seq) {
                return None;
            }
            ClientEvent::MessageUpdated(ChatMessage::from(message))
        }
        Kind::Typing(typing) => ClientEvent::Typing {
            room: typing.room,
            name: typing.name,
            typing: typing.typing,
        },
        Kind::ReadMarker(marker) => ClientEvent::ReadMarker {
            room: marker.room,
            seq: marker.seq,
        },
        Kind::NotifyChanged(changed) => ClientEvent::NotifyChanged {
            level: changed.level(),
            room: changed.room,
        },
        Kind::RoomJoined(joined) => {
            shared.rooms().insert(joined.room.clone());
            // Messages after `last_seq` follow on this stream. A cursor
            // past it is from before the room's numbering was reset.
            let mut cursors = shared.cursors();
            let cursor = cursors
                .entry(joined.room.clone())
                .or_insert(joined.last_seq);
            *cursor = (*cursor).min(joined.last_seq);
            drop(cursors);
            ClientEvent::RoomJoined {
                room: joined.room,
                members: joined.members.into_iter().map(Member::from).collect(),
                last_seq: joined.last_seq,
                details: joined.details.map(RoomInfo::from).unwrap_or_default(),
            }
        }
        Kind::RoomLeft(left) => {
            shared.rooms().remove(&left.room);
            shared.cursors().remove(&left.room);
            ClientEvent::RoomLeft {
                room: left.room,
                reason: left.reason,
            }
        }
        Kind::RoomChanged(changed) => ClientEvent::RoomChanged {
            room: changed.room,
            actor: changed.actor,
            action: changed.action.and_then(|a| a.action)?,
        },
        Kind::Invited(invited) => ClientEvent::Invited {
            room: invited.room,
            by: invited.by,
        },
        Kind::MemberJoined(m) => ClientEvent::MemberJoined {
            room: m.room,
            name: m.name,
            online: m.online,
            guest: m.guest,
        },
        Kind::MemberLeft(m) => ClientEvent::MemberLeft {
            room: m.room,
            name: m.name,
        },
        Kind::Presence(p) => ClientEvent::Presence {
            name: p.name,
            online: p.online,
        },
        Kind::RoomCreated(r) => ClientEvent::RoomCreated { room: r.room },
        Kind::RoomClosed(r) => ClientEvent::RoomClosed { room: r.room },
        Kind::FellBehind(notice) => {
            let resumed_at = notice.resumed_at_seq;
            shared
                .cursors()
                .insert(notice.room.clone(), resumed_at.saturating_sub(1));
            ClientEvent::FellBehind {
                room: notice.room,
                first_missed: notice.first_missed_seq,
                resumed_at,
            }
        }
    })
}

/// `event` with every name in it printable (message text and senders are
/// made so in [`ChatMessage::from`]).
fn printable_event(mut event: Kind) -> Kind {
    let names: Vec<&mut String> = match &mut event {
        Kind::MemberJoined(m) => vec![&mut m.room, &mut m.name],
        Kind::MemberLeft(m) => vec![&mut m.room, &mut m.name],
        Kind::Presence(p) => vec![&mut p.name],
        Kind::RoomCreated(r) => vec![&mut r.room],
        Kind::RoomClosed(r) => vec![&mut r.room],
        Kind::RoomJoined(r) => vec![&mut r.room],
        Kind::RoomLeft(r) => vec![&mut r.room, &mut r.reason],
        Kind::Invited(r) => vec![&mut r.room, &mut r.by],
        Kind::RoomChanged(r) => {
            let mut names = vec![&mut r.room, &mut r.actor];
            names.extend(r.action.as_mut().and_then(action_text));
            names
        }
        Kind::FellBehind(r) => vec![&mut r.room],
        Kind::ReadMarker(r) => vec![&mut r.room],
        Kind::NotifyChanged(r) => vec![&mut r.room],
        Kind::Typing(t) => vec![&mut t.room, &mut t.name],
        Kind::Message(_) | Kind::MessageUpdated(_) => Vec::new(),
    };
    for name in names {
        *name = crate::printable::line(name);
    }
    event
}

/// The name or topic a room action carries.
fn action_text(action: &mut wire::RoomAction) -> Option<&mut String> {
    use wire::room_action::Action;
    match action.action.as_mut()? {
        Action::SetTopic(text)
        | Action::Invite(text)
        | Action::Kick(text)
        | Action::Ban(text)
        | Action::Unban(text)
        | Action::Mute(text)
        | Action::Unmute(text)
        | Action::Promote(text)
        | Action::Demote(text)
        | Action::TransferOwnership(text) => Some(text),
        Action::Delete(_) => None,
    }
}

/// The stream failed with `status`: an ended session means logging in
/// again (at once); anything else, reconnecting after a wait.
fn failed(shared: &Shared, status: tonic::Status, was_online: bool) -> Ended {
    if status.code() == Code::Unauthenticated {
        shared.auth.send_if_modified(|auth| {
            let had = auth.token.take().is_some();
            had && !auth.closed
        });
        if shared.auth.borrow().closed {
            return Ended::Stop;
        }
        return reconnect("the session ended; logging in again".into(), true, false);
    }
    let lost_server = is_transient(&status);
    reconnect(
        ClientError::from_status(status).to_string(),
        was_online,
        lost_server,
    )
}

fn reconnect(reason: String, was_online: bool, lost_server: bool) -> Ended {
    Ended::Reconnect {
        reason,
        was_online,
        lost_server,
    }
}

/// Hands `event` to the application; false once it stopped listening.
async fn say(events: &mpsc::Sender<ClientEvent>, event: ClientEvent) -> bool {
    events.send(event).await.is_ok()
}
