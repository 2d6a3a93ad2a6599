//! The client's calls: one for every command, each retried as it safely
//! can through a lost connection or session.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::chat::v1 as wire;
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::connection::{Auth, Shared, authorized};
use crate::error::is_transient;
use crate::files::{self, SharedFile};
use crate::{
    ChatMessage, ClientConfig, ClientError, ClientEvent, HistoryPage, Member, RoomAction, RoomInfo,
    SearchPage, printable, session,
};

/// How long a call keeps retrying through a lost connection or session.
const RETRY_FOR: Duration = Duration::from_secs(20);
/// Events the application has not read yet before the client waits for it.
const EVENT_BACKLOG: usize = 1024;

/// A cheap-to-clone handle to a logged-in client.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

type CallFuture<T> = Pin<Box<dyn Future<Output = Result<T, Status>> + Send>>;

impl Client {
    /// Connects, logs in as `config.name`, joins `config.rooms`, and starts
    /// following the session. Fails at once if the server cannot be reached
    /// or the name is taken.
    pub async fn connect(
        config: ClientConfig,
    ) -> Result<(Client, mpsc::Receiver<ClientEvent>), ClientError> {
        let shared = Arc::new(Shared::connect(config).await?);
        let (events, receiver) = mpsc::channel(EVENT_BACKLOG);
        shared.login(&events).await?;
        let client = Client { shared };
        for room in client.shared.config.rooms.clone() {
            client.join_room(&room).await?;
        }
        tokio::spawn(session::run(Arc::clone(&client.shared), events));
        Ok((client, receiver))
    }

    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// The current session's token, to save for the next run.
    pub fn session_token(&self) -> Option<String> {
        self.shared.auth.borrow().token.clone()
    }

    /// The rooms the user is in, as far as the client knows.
    pub fn rooms(&self) -> Vec<String> {
        self.shared.rooms().iter().cloned().collect()
    }

    /// Sends `text` to `room`. Retried through a lost connection, and
    /// paced when the server says the user sends too fast, under one id, so
    /// it is posted once however many tries it takes.
    pub async fn send(&self, room: &str, text: &str) -> Result<ChatMessage, ClientError> {
        self.reply(room, text, None).await
    }

    /// Sends `text` to `room` as [`send`](Self::send) does, as an answer to
    /// message `reply_to` of the room if given.
    pub async fn reply(
        &self,
        room: &str,
        text: &str,
        reply_to: Option<u64>,
    ) -> Result<ChatMessage, ClientError> {
        self.send_files(room, text, reply_to, Vec::new()).await
    }

    /// Sends `text` (which may be empty) with the files `file_ids` the user
    /// uploaded ([`upload`](Self::upload)), as [`reply`](Self::reply) does.
    pub async fn send_files(
        &self,
        room: &str,
        text: &str,
        reply_to: Option<u64>,
        file_ids: Vec<String>,
    ) -> Result<ChatMessage, ClientError> {
        let message = wire::SendMessageRequest {
            room: room.to_owned(),
            text: text.to_owned(),
            client_message_id: format!("{:032x}", rand::random::<u128>()),
            reply_to: reply_to.unwrap_or(0),
            attachments: file_ids,
        };
        let sent = self
            .call(Retry::EvenThrottled, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.send_message(request).await?.into_inner()) })
            })
            .await?;
        sent.message
            .map(ChatMessage::from)
            .ok_or_else(|| missing("message"))
    }

    /// Uploads `bytes` as a file named `name`, to send with
    /// [`send_files`](Self::send_files). Accounts only (by default).
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Result<SharedFile, ClientError> {
        let token = self.session_token().ok_or(ClientError::Refused {
            code: Code::Unavailable,
            message: "not connected; try again in a moment".into(),
        })?;
        files::upload(self.shared.channel(), &token, name, bytes.into()).await
    }

    /// The bytes of a file's (or thumbnail's) link.
    pub async fn fetch(&self, link: &str) -> Result<Vec<u8>, ClientError> {
        Ok(files::fetch(self.shared.channel(), link).await?.to_vec())
    }

    /// A file's link as a full URL, for a person to open elsewhere.
    pub fn full_url(&self, link: &str) -> String {
        format!("{}{link}", self.shared.current_url().trim_end_matches('/'))
    }

    /// Replaces the text of message `seq` of `room`, one of the user's own.
    pub async fn edit(&self, room: &str, seq: u64, text: &str) -> Result<ChatMessage, ClientError> {
        let request = wire::EditMessageRequest {
            room: room.to_owned(),
            seq,
            text: text.to_owned(),
        };
        // The same edit again changes nothing: safe to repeat.
        let edited = self
            .call(Retry::EvenThrottled, move |mut rpc, token| {
                let request = authorized(request.clone(), &token);
                Box::pin(async move { Ok(rpc.edit_message(request).await?.into_inner()) })
            })
            .await?;
        edited
            .message
            .map(ChatMessage::from)
            .ok_or_else(|| missing("message"))
    }

    /// Deletes message `seq` of `room` (the user's own, or any as a
    /// moderator).
    pub async fn delete(&self, room: &str, seq: u64) -> Result<(), ClientError> {
        let request = wire::DeleteMessageRequest {
            room: room.to_owned(),
            seq,
        };
        self.call(Retry::EvenThrottled, move |mut rpc, token| {
            let request = authorized(request.clone(), &token);
            Box::pin(async move { Ok(rpc.delete_message(request).await?.into_inner()) })
        })
        .await?;
        Ok(())
    }

    /// Puts `emoji` (one emoji, or a `:shortcode:`) on message `seq` of
    /// `room`, or takes the user's away.
    pub async fn react(
        &self,
        room: &str,
        seq: u64,
        emoji: &str,
        remove: bool,
    ) -> Result<ChatMessage, ClientError> {
        let request = wire::ReactRequest {
            room: room.to_owned(),
            seq,
            emoji: emoji.to_owned(),
            remove,
        };
        let reacted = self
            .call(Retry::EvenThrottled, move |mut rpc, token| {
                let request = authorized(request.clone(), &token);
                Box::pin(async move { Ok(rpc.react(request).await?.into_inner()) })
            })
            .await?;
        reacted
            .message
            .map(ChatMessage::from)
            .ok_or_else(|| missing("message"))
    }

    /// The user has read `room` up to entry `seq`.
    pub async fn mark_read(&self, room: &str, seq: u64) -> Result<(), ClientError> {
        let request = wire::MarkReadRequest {
            room: room.to_owned(),
            seq,
        };
        self.call(Retry::Transient, move |mut rpc, token| {
            let request = authorized(request.clone(), &token);
            Box::pin(async move { Ok(rpc.mark_read(request).await?.into_inner()) })
        })
        .await?;
        Ok(())
    }

    /// What `room` tells the user about.
    pub async fn set_notify(
        &self,
        room: &str,
        level: wire::NotifyLevel,
    ) -> Result<(), ClientError> {
        let request = wire::SetNotifyRequest {
            room: room.to_owned(),
            level: level.into(),
        };
        self.call(Retry::Transient, move |mut rpc, token| {
            let request = authorized(request.clone(), &token);
            Box::pin(async move { Ok(rpc.set_notify(request).await?.into_inner()) })
        })
        .await?;
        Ok(())
    }

    /// Creates `room`, private (seen only by those invited) or not, owned
    /// by the user, and joins it.
    pub async fn create_room(&self, room: &str, private: bool) -> Result<RoomInfo, ClientError> {
        let message = wire::CreateRoomRequest {
            room: room.to_owned(),
            private,
        };
        let reply = self
            .call(Retry::Never, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.create_room(request).await?.into_inner()) })
            })
            .await?;
        self.entered(room, reply.room)
    }

    /// Joins `room`; its messages arrive as events from now on.
    pub async fn join_room(&self, room: &str) -> Result<RoomInfo, ClientError> {
        let message = wire::JoinRoomRequest {
            room: room.to_owned(),
        };
        let reply = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.join_room(request).await?.into_inner()) })
            })
            .await?;
        self.entered(room, reply.room)
    }

    /// Records that the user is in `room`, as the server's `reply` says.
    fn entered(&self, room: &str, reply: Option<wire::Room>) -> Result<RoomInfo, ClientError> {
        self.shared.rooms().insert(room.to_owned());
        reply.map(RoomInfo::from).ok_or_else(|| missing("room"))
    }

    pub async fn leave_room(&self, room: &str) -> Result<(), ClientError> {
        let message = wire::LeaveRoomRequest {
            room: room.to_owned(),
        };
        self.call(Retry::Never, move |mut rpc, token| {
            let request = authorized(message.clone(), &token);
            Box::pin(async move { Ok(rpc.leave_room(request).await?.into_inner()) })
        })
        .await?;
        self.shared.rooms().remove(room);
        self.shared.cursors().remove(room);
        Ok(())
    }

    /// Takes `action` in `room` (as owner or moderator). Returns it as the
    /// server took it, names in the server's spelling.
    pub async fn moderate(
        &self,
        room: &str,
        action: RoomAction,
    ) -> Result<RoomAction, ClientError> {
        let message = wire::ModerateRoomRequest {
            room: room.to_owned(),
            action: Some(wire::RoomAction {
                action: Some(action),
            }),
        };
        let reply = self
            .call(Retry::Never, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.moderate_room(request).await?.into_inner()) })
            })
            .await?;
        reply
            .action
            .and_then(|action| action.action)
            .ok_or_else(|| missing("action"))
    }

    /// The names banned from `room` (for its owner and moderators).
    pub async fn list_bans(&self, room: &str) -> Result<Vec<String>, ClientError> {
        let message = wire::ListBansRequest {
            room: room.to_owned(),
        };
        let reply = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.list_bans(request).await?.into_inner()) })
            })
            .await?;
        Ok(reply
            .names
            .iter()
            .map(|name| printable::line(name))
            .collect())
    }

    /// The direct conversation with account `name`, opened (and joined)
    /// if there was none.
    pub async fn open_direct(&self, name: &str) -> Result<RoomInfo, ClientError> {
        let message = wire::OpenDirectRequest {
            name: name.to_owned(),
        };
        let reply = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.open_direct(request).await?.into_inner()) })
            })
            .await?;
        let room = reply.room.ok_or_else(|| missing("room"))?;
        let name = room.name.clone();
        self.entered(&name, Some(room))
    }

    /// Every open room, by name.
    pub async fn list_rooms(&self) -> Result<Vec<RoomInfo>, ClientError> {
        self.all_pages(|mut rpc, token, page_token| {
            let message = wire::ListRoomsRequest {
                page_size: 0,
                page_token,
            };
            let request = authorized(message, &token);
            Box::pin(async move {
                let page = rpc.list_rooms(request).await?.into_inner();
                let rooms = page.rooms.into_iter().map(RoomInfo::from).collect();
                Ok((rooms, page.next_page_token))
            })
        })
        .await
    }

    /// Every member of `room`, by name.
    pub async fn list_members(&self, room: &str) -> Result<Vec<Member>, ClientError> {
        self.all_pages(|mut rpc, token, page_token| {
            let message = wire::ListMembersRequest {
                room: room.to_owned(),
                page_size: 0,
                page_token,
            };
            let request = authorized(message, &token);
            Box::pin(async move {
                let page = rpc.list_members(request).await?.into_inner();
                let members = page.members.into_iter().map(Member::from).collect();
                Ok((members, page.next_page_token))
            })
        })
        .await
    }

    /// Every item of a paginated listing. `page` fetches the page after a
    /// page token and returns its items and the next token (empty on the
    /// last page).
    async fn all_pages<T, F>(&self, mut page: F) -> Result<Vec<T>, ClientError>
    where
        F: FnMut(ChatServiceClient<Channel>, String, String) -> CallFuture<(Vec<T>, String)>,
    {
        let mut items = Vec::new();
        let mut page_token = String::new();
        loop {
            let after = page_token;
            let (mut found, next) = self
                .call(Retry::Transient, |rpc, token| {
                    page(rpc, token, after.clone())
                })
                .await?;
            items.append(&mut found);
            if next.is_empty() {
                return Ok(items);
            }
            page_token = next;
        }
    }

    /// Up to `limit` messages of `room` before sequence number `before`
    /// (`None`: the newest), oldest first.
    pub async fn history(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<HistoryPage, ClientError> {
        let message = wire::GetHistoryRequest {
            room: room.to_owned(),
            position: before.map(wire::get_history_request::Position::BeforeSeq),
            limit,
        };
        let page = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.get_history(request).await?.into_inner()) })
            })
            .await?;
        Ok(HistoryPage {
            messages: page.messages.into_iter().map(ChatMessage::from).collect(),
            has_more: page.has_more,
        })
    }

    /// A page of the messages holding every word of `query`, newest
    /// first: in `room`, or in every room the user may read; the next page
    /// after `page_token` (empty for the first).
    pub async fn search(
        &self,
        query: &str,
        room: Option<&str>,
        page_token: &str,
    ) -> Result<SearchPage, ClientError> {
        let message = wire::SearchMessagesRequest {
            query: query.to_owned(),
            room: room.unwrap_or_default().to_owned(),
            limit: 0,
            page_token: page_token.to_owned(),
        };
        let page = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.search_messages(request).await?.into_inner()) })
            })
            .await?;
        let hits = page.hits.into_iter().filter_map(|hit| hit.message);
        Ok(SearchPage {
            hits: hits.map(ChatMessage::from).collect(),
            next_page_token: page.next_page_token,
            terms: page.terms,
        })
    }

    /// Ends the session: the user leaves its rooms and the name is free.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let result = self
            .call(Retry::Never, |mut rpc, token| {
                let request = authorized(wire::LogoutRequest {}, &token);
                Box::pin(async move { Ok(rpc.logout(request).await?.into_inner()) })
            })
            .await;
        self.session_ended();
        result.map(drop)
    }

    /// No session now: the session task stops instead of logging in.
    fn session_ended(&self) {
        self.shared.auth.send_replace(Auth {
            token: None,
            closed: true,
        });
        self.shared.rooms().clear();
    }

    /// Carries out `change` to the user's account.
    pub async fn change_account(&self, change: AccountChange) -> Result<(), ClientError> {
        match change {
            AccountChange::Password { old, new } => self.change_password(&old, &new).await,
            AccountChange::Delete { password } => self.delete_account(&password).await,
        }
    }

    /// Sets the account's password; its other sessions end, this one
    /// goes on.
    pub async fn change_password(&self, old: &str, new: &str) -> Result<(), ClientError> {
        let message = wire::ChangePasswordRequest {
            old_password: old.to_owned(),
            new_password: new.to_owned(),
        };
        self.call(Retry::Never, move |mut rpc, token| {
            let request = authorized(message.clone(), &token);
            Box::pin(async move { Ok(rpc.change_password(request).await?.into_inner()) })
        })
        .await
        .map(drop)
    }

    /// Deletes the account (`password` confirms it): its sessions end,
    /// this one too, and its name is free.
    pub async fn delete_account(&self, password: &str) -> Result<(), ClientError> {
        let message = wire::DeleteAccountRequest {
            password: password.to_owned(),
        };
        self.call(Retry::Never, move |mut rpc, token| {
            let request = authorized(message.clone(), &token);
            Box::pin(async move { Ok(rpc.delete_account(request).await?.into_inner()) })
        })
        .await?;
        self.session_ended();
        Ok(())
    }

    /// Ends this client and its session task. A guest's session is
    /// logged out, so its name is free at once; an account's stays, so a
    /// saved token logs in again next time: only [`logout`](Self::logout)
    /// ends it.
    pub async fn quit(&self) {
        let config = &self.shared.config;
        let guest = config.password.is_empty() && !config.register && config.token.is_none();
        if guest {
            let _ = self.logout().await;
            return;
        }
        self.shared.auth.send_replace(Auth {
            token: None,
            closed: true,
        });
    }

    /// Runs `attempt` with the current session's token, retrying as
    /// `retry` allows for up to [`RETRY_FOR`].
    async fn call<T, F>(&self, retry: Retry, mut attempt: F) -> Result<T, ClientError>
    where
        F: FnMut(ChatServiceClient<Channel>, String) -> CallFuture<T>,
    {
        let deadline = Instant::now() + RETRY_FOR;
        let mut auth = self.shared.auth.subscribe();
        loop {
            let current = auth.borrow_and_update().clone();
            if current.closed {
                return Err(ClientError::Closed);
            }
            let failure = match current.token {
                Some(token) => match attempt(self.shared.rpc(), token).await {
                    Ok(value) => return Ok(value),
                    Err(status) => status,
                },
                None => Status::unauthenticated("reconnecting"),
            };
            let again = match retry {
                Retry::Never => false,
                Retry::Transient => is_transient(&failure),
                Retry::EvenThrottled => {
                    is_transient(&failure) || failure.code() == Code::ResourceExhausted
                }
            };
            if !again || Instant::now() >= deadline {
                return Err(ClientError::from_status(failure));
            }
            if failure.code() == Code::Unauthenticated {
                // The session task logs in again; wait for its new token.
                let _ = tokio::time::timeout_at(deadline, auth.changed()).await;
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Which failures a call tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// None: the request is not safe to repeat.
    Never,
    /// A lost connection or session.
    Transient,
    /// Those, and being told to slow down (sends, which the server limits
    /// per user): the wait between tries paces them.
    EvenThrottled,
}

fn missing(field: &str) -> ClientError {
    ClientError::Refused {
        code: Code::Internal,
        message: format!("the server's reply had no {field}"),
    }
}

/// A change to one's account, with its passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum AccountChange {
    Password { old: String, new: String },
    Delete { password: String },
}

impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a password in a log or a test failure.
        f.write_str(match self {
            AccountChange::Password { .. } => "Password { .. }",
            AccountChange::Delete { .. } => "Delete { .. }",
        })
    }
}
