//! A thin `chat.v1` test client over the generated stubs, so tests see the
//! protocol itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::*;
use tonic::transport::Channel;
use tonic::{Request, Status, Streaming};

use super::{PATIENCE, connect, connect_from};

/// The password of accounts that tests make with [`NativeUser::account`].
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone)]
pub struct NativeUser {
    pub name: String,
    pub token: String,
    pub client: ChatServiceClient<Channel>,
}

impl std::fmt::Debug for NativeUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NativeUser {
    pub async fn login(addr: SocketAddr, name: &str) -> Self {
        Self::try_login(addr, name).await.expect("Login")
    }

    pub async fn try_login(addr: SocketAddr, name: &str) -> Result<Self, Status> {
        Self::try_login_with(addr, name, "").await
    }

    /// Logs in to account `name` with `password` (a guest if empty).
    pub async fn try_login_with(
        addr: SocketAddr,
        name: &str,
        password: &str,
    ) -> Result<Self, Status> {
        let mut client = ChatServiceClient::new(connect(addr).await);
        let reply = client
            .login(LoginRequest {
                name: name.into(),
                password: password.into(),
            })
            .await?
            .into_inner();
        Ok(Self::session(reply.name, reply.session_token, client))
    }

    pub async fn try_register(
        addr: SocketAddr,
        name: &str,
        password: &str,
    ) -> Result<Self, Status> {
        Self::register_over(connect(addr).await, name, password).await
    }

    async fn register_over(channel: Channel, name: &str, password: &str) -> Result<Self, Status> {
        let mut client = ChatServiceClient::new(channel);
        let reply = client
            .register(RegisterRequest {
                name: name.into(),
                password: password.into(),
            })
            .await?
            .into_inner();
        Ok(Self::session(reply.name, reply.session_token, client))
    }

    fn session(name: String, token: String, client: ChatServiceClient<Channel>) -> Self {
        NativeUser {
            name,
            token,
            client,
        }
    }

    /// Registers account `name` (with [`PASSWORD`]) from a loopback
    /// address no other call has used, so tests that need several
    /// accounts are not held by the registration pace of one address.
    pub async fn account(addr: SocketAddr, name: &str) -> Self {
        static NEXT_SOURCE: AtomicU16 = AtomicU16::new(1);
        let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        let source = IpAddr::V4(Ipv4Addr::new(127, 1, n[0], n[1]));
        Self::register_over(connect_from(source, addr).await, name, PASSWORD)
            .await
            .expect("Register")
    }

    pub async fn register(addr: SocketAddr, name: &str, password: &str) -> Self {
        Self::try_register(addr, name, password)
            .await
            .expect("Register")
    }

    /// A client that uses a token it was given, on a connection of its own.
    pub async fn with_token(addr: SocketAddr, name: &str, token: &str) -> Self {
        NativeUser {
            name: name.into(),
            token: token.into(),
            client: ChatServiceClient::new(connect(addr).await),
        }
    }

    /// Who the server says this session is: Ok((name, registered)).
    pub async fn who_am_i(&mut self) -> Result<(String, bool), Status> {
        let request = self.req(WhoAmIRequest {});
        let reply = self.client.who_am_i(request).await?.into_inner();
        Ok((reply.name, reply.registered))
    }

    pub async fn logout(&mut self) {
        let request = self.req(LogoutRequest {});
        self.client.logout(request).await.expect("Logout");
    }

    /// `message` with the session token attached.
    pub fn req<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        request
    }

    pub async fn subscribe(&mut self, cursors: &[(&str, u64)]) -> Streaming<Event> {
        let cursors = cursors
            .iter()
            .map(|&(room, last_seq)| RoomCursor {
                room: room.into(),
                last_seq,
            })
            .collect();
        let request = self.req(SubscribeRequest { cursors });
        self.client
            .subscribe(request)
            .await
            .expect("Subscribe")
            .into_inner()
    }

    pub async fn join(&mut self, room: &str) -> Room {
        let request = self.req(JoinRoomRequest { room: room.into() });
        self.client
            .join_room(request)
            .await
            .expect("JoinRoom")
            .into_inner()
            .room
            .unwrap()
    }

    pub async fn create(&mut self, room: &str) -> Room {
        self.try_create(room, false).await.expect("CreateRoom")
    }

    pub async fn try_create(&mut self, room: &str, private: bool) -> Result<Room, Status> {
        let request = self.req(CreateRoomRequest {
            room: room.into(),
            private,
        });
        Ok(self
            .client
            .create_room(request)
            .await?
            .into_inner()
            .room
            .unwrap())
    }

    pub async fn try_join(&mut self, room: &str) -> Result<Room, Status> {
        let request = self.req(JoinRoomRequest { room: room.into() });
        Ok(self
            .client
            .join_room(request)
            .await?
            .into_inner()
            .room
            .unwrap())
    }

    /// Takes `action` in `room`; the action as the server took it.
    pub async fn moderate(
        &mut self,
        room: &str,
        action: room_action::Action,
    ) -> Result<room_action::Action, Status> {
        let request = self.req(ModerateRoomRequest {
            room: room.into(),
            action: Some(RoomAction {
                action: Some(action),
            }),
        });
        let reply = self.client.moderate_room(request).await?.into_inner();
        Ok(reply.action.and_then(|action| action.action).unwrap())
    }

    pub async fn open_direct(&mut self, name: &str) -> Result<OpenDirectResponse, Status> {
        let request = self.req(OpenDirectRequest { name: name.into() });
        Ok(self.client.open_direct(request).await?.into_inner())
    }

    pub async fn leave(&mut self, room: &str) {
        let request = self.req(LeaveRoomRequest { room: room.into() });
        self.client.leave_room(request).await.expect("LeaveRoom");
    }

    pub async fn try_send(&mut self, room: &str, text: &str, id: &str) -> Result<Message, Status> {
        self.try_post(SendMessageRequest {
            room: room.into(),
            text: text.into(),
            client_message_id: id.into(),
            reply_to: 0,
            attachments: Vec::new(),
        })
        .await
    }

    /// Sends `text` with the files `ids` to `room`.
    pub async fn try_send_files(
        &mut self,
        room: &str,
        text: &str,
        ids: &[&str],
    ) -> Result<Message, Status> {
        self.try_post(SendMessageRequest {
            room: room.into(),
            text: text.into(),
            client_message_id: String::new(),
            reply_to: 0,
            attachments: ids.iter().map(|id| id.to_string()).collect(),
        })
        .await
    }

    /// Sends `text` to `room` as a reply to message `reply_to`.
    pub async fn try_reply(
        &mut self,
        room: &str,
        text: &str,
        reply_to: u64,
    ) -> Result<Message, Status> {
        self.try_post(SendMessageRequest {
            room: room.into(),
            text: text.into(),
            client_message_id: String::new(),
            reply_to,
            attachments: Vec::new(),
        })
        .await
    }

    async fn try_post(&mut self, message: SendMessageRequest) -> Result<Message, Status> {
        let request = self.req(message);
        Ok(self
            .client
            .send_message(request)
            .await?
            .into_inner()
            .message
            .unwrap())
    }

    pub async fn try_edit(&mut self, room: &str, seq: u64, text: &str) -> Result<Message, Status> {
        let request = self.req(EditMessageRequest {
            room: room.into(),
            seq,
            text: text.into(),
        });
        Ok(self
            .client
            .edit_message(request)
            .await?
            .into_inner()
            .message
            .unwrap())
    }

    pub async fn try_delete(&mut self, room: &str, seq: u64) -> Result<(), Status> {
        let request = self.req(DeleteMessageRequest {
            room: room.into(),
            seq,
        });
        self.client.delete_message(request).await.map(drop)
    }

    /// Puts `emoji` on message `seq` of `room`, or takes it away.
    pub async fn try_react(
        &mut self,
        room: &str,
        seq: u64,
        emoji: &str,
        remove: bool,
    ) -> Result<Message, Status> {
        let request = self.req(ReactRequest {
            room: room.into(),
            seq,
            emoji: emoji.into(),
            remove,
        });
        Ok(self
            .client
            .react(request)
            .await?
            .into_inner()
            .message
            .unwrap())
    }

    pub async fn send(&mut self, room: &str, text: &str) -> Message {
        self.try_send(room, text, "").await.expect("SendMessage")
    }

    pub async fn rooms(&mut self) -> Vec<Room> {
        let request = self.req(ListRoomsRequest::default());
        self.client
            .list_rooms(request)
            .await
            .expect("ListRooms")
            .into_inner()
            .rooms
    }

    /// What `room` tells the user about, as it lists its rooms.
    pub async fn notify_level(&mut self, room: &str) -> NotifyLevel {
        let rooms = self.rooms().await;
        rooms
            .iter()
            .find(|r| r.name == room)
            .expect("listed")
            .notify()
    }

    pub async fn try_set_notify(&mut self, room: &str, level: NotifyLevel) -> Result<(), Status> {
        let request = self.req(SetNotifyRequest {
            room: room.into(),
            level: level.into(),
        });
        self.client.set_notify(request).await.map(drop)
    }

    /// One page of a search, waiting out the searches-per-second limit.
    pub async fn try_search(
        &mut self,
        query: &str,
        room: &str,
        limit: u32,
        page_token: &str,
    ) -> Result<SearchMessagesResponse, Status> {
        loop {
            let request = self.req(SearchMessagesRequest {
                query: query.into(),
                room: room.into(),
                limit,
                page_token: page_token.into(),
            });
            match self.client.search_messages(request).await {
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                reply => return reply.map(tonic::Response::into_inner),
            }
        }
    }

    /// Every hit of a search as `room: text`, newest first, page by page
    /// of `limit`.
    pub async fn search(&mut self, query: &str, room: &str, limit: u32) -> Vec<String> {
        let mut hits = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .try_search(query, room, limit, &token)
                .await
                .expect("search");
            let said = page.hits.into_iter().filter_map(|hit| hit.message);
            hits.extend(said.map(|m| format!("{}: {}", m.room, m.text)));
            if page.next_page_token.is_empty() {
                return hits;
            }
            token = page.next_page_token;
        }
    }

    pub async fn members(&mut self, room: &str) -> Vec<Member> {
        self.try_members(room).await.expect("ListMembers")
    }

    pub async fn try_members(&mut self, room: &str) -> Result<Vec<Member>, Status> {
        let request = self.req(ListMembersRequest {
            room: room.into(),
            ..Default::default()
        });
        Ok(self
            .client
            .list_members(request)
            .await?
            .into_inner()
            .members)
    }

    pub async fn history(
        &mut self,
        room: &str,
        position: Option<get_history_request::Position>,
        limit: u32,
    ) -> GetHistoryResponse {
        self.try_history(room, position, limit)
            .await
            .expect("GetHistory")
    }

    pub async fn try_history(
        &mut self,
        room: &str,
        position: Option<get_history_request::Position>,
        limit: u32,
    ) -> Result<GetHistoryResponse, Status> {
        let request = self.req(GetHistoryRequest {
            room: room.into(),
            position,
            limit,
        });
        Ok(self.client.get_history(request).await?.into_inner())
    }
}

/// The next event of a stream, failing the test if none comes.
pub async fn next_event(stream: &mut Streaming<Event>) -> Kind {
    match tokio::time::timeout(PATIENCE, stream.message()).await {
        Ok(Ok(Some(event))) => event.event.expect("an event with a body"),
        Ok(Ok(None)) => panic!("the event stream ended"),
        Ok(Err(status)) => panic!("the event stream failed: {status}"),
        Err(_) => panic!("no event within {PATIENCE:?}"),
    }
}

/// The next message event, skipping others.
pub async fn next_message(stream: &mut Streaming<Event>) -> Message {
    loop {
        if let Kind::Message(message) = next_event(stream).await {
            return message;
        }
    }
}

/// The next change to a message, skipping other events.
pub async fn next_update(stream: &mut Streaming<Event>) -> MessageUpdated {
    next_matching(stream, |event| match event {
        Kind::MessageUpdated(update) => Some(update),
        _ => None,
    })
    .await
}

/// The next event that `pick` accepts, skipping others.
pub async fn next_matching<T>(
    stream: &mut Streaming<Event>,
    pick: impl Fn(Kind) -> Option<T>,
) -> T {
    loop {
        if let Some(found) = pick(next_event(stream).await) {
            return found;
        }
    }
}
