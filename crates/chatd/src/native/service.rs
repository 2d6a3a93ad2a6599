//! `chat.v1.ChatService`: the native protocol's calls.

use std::collections::HashMap;
use std::sync::Arc;

use crate::metrics::{Limit, Metrics, SendMeter};
use chat_engine::{ChangeKind, Draft, Origin};
use chat_proto::chat::v1::chat_service_server::ChatService;
use chat_proto::chat::v1::get_history_request::Position;
use chat_proto::chat::v1::*;
use prost::Message as _;
use tonic::{Request, Response, Status};

use super::convert;
use super::events::{self, EventStream};
use crate::accounts::AccountError;
use crate::address_rate::AddressRate;
use crate::files::Files;
use crate::sessions::names::is_channel_room;
use crate::sessions::{Session, Sessions};
use crate::status::{self, room_not_found};
use crate::transport::{ConnectionInfo, FRAMING, ReplyQuota, address_key, hand_off};

/// Default and largest history page, in messages.
const HISTORY_PAGE: (u32, u32) = (50, 500);
/// Largest history page, in bytes of its messages' text and names: a page
/// of long messages is cut short (with `has_more`) to fit.
pub const HISTORY_PAGE_BYTES: usize = 256 * 1024;
/// Bytes of a history message besides its text and sender: room, numbers,
/// time, client id, framing.
const MESSAGE_OVERHEAD: usize = 64 + 128 + FRAMING;

pub struct NativeChat {
    sessions: Sessions,
    files: Files,
    logins: AddressRate,
}

impl NativeChat {
    /// Makes `session`'s user's change of `kind` to message `seq` of
    /// `room` (a room it is in), paced like sends. Returns the message as
    /// it is after.
    async fn change(
        &self,
        session: &Session,
        room: &str,
        seq: u64,
        kind: ChangeKind,
    ) -> Result<Message, Status> {
        let target = self.sessions.room_of(session, room).await?;
        session
            .user()
            .take_send(self.sessions.max_sends_per_second())?;
        let message = target
            .change(&session.user().author(), seq, kind)
            .await
            .map_err(status::from_engine)?;
        Ok(convert::message(room, &message, self.reader(session)))
    }

    pub fn new(sessions: Sessions, files: Files, logins: AddressRate) -> Self {
        NativeChat {
            sessions,
            files,
            logins,
        }
    }

    /// `session`'s user, as messages are converted for it.
    fn reader<'a>(&'a self, session: &'a Session) -> convert::Reader<'a> {
        convert::Reader {
            links: self.files.links(),
            name: session.name(),
        }
    }

    /// The session whose token `request` carries.
    fn session<T>(&self, request: &Request<T>) -> Result<Arc<Session>, Status> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Status::unauthenticated(
                    "this call needs a session: log in with Login and send its token \
                     as the metadata `authorization: Bearer TOKEN`",
                )
            })?;
        Ok(self.sessions.authenticate(token)?)
    }

    /// The session of `request`, which must be an account's, and the
    /// address it came from.
    fn account_session<T>(&self, request: &Request<T>) -> Result<(Arc<Session>, String), Status> {
        let session = self.session(request)?;
        if !session.user().is_account() {
            return Err(Status::failed_precondition(
                "a guest has no account; Register one first",
            ));
        }
        Ok((session, client_address(request)))
    }
}

/// The key failed logins from `request`'s address are counted under.
fn client_address<T>(request: &Request<T>) -> String {
    ConnectionInfo::of(request).map_or_else(String::new, |info| {
        address_key(info.remote_addr.ip()).to_string()
    })
}

/// The password given to confirm a change was wrong (or throttled).
fn wrong_password() -> Status {
    let status = status::from_account(AccountError::WrongNameOrPassword);
    Status::new(status.code(), "wrong password")
}

#[tonic::async_trait]
impl ChatService for NativeChat {
    type SubscribeStream = EventStream;

    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        self.logins.check(&request)?;
        let address = client_address(&request);
        let RegisterRequest { name, password } = request.into_inner();
        let session = self.sessions.register(&name, &password, &address).await?;
        Ok(Response::new(RegisterResponse {
            session_token: session.token().to_owned(),
            name: session.name().to_owned(),
        }))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        self.logins.check(&request)?;
        let address = client_address(&request);
        let metrics = Metrics::of(&request).map(|(metrics, _)| metrics.clone());
        let LoginRequest { name, password } = request.into_inner();
        let session = if password.is_empty() {
            self.sessions.guest_login(&name).await
        } else {
            self.sessions
                .account_login(&name, &password, &address)
                .await
        };
        let session = session.map_err(Status::from);
        if let Some(metrics) = metrics {
            metrics.login(&session);
        }
        let session = session?;
        Ok(Response::new(LoginResponse {
            session_token: session.token().to_owned(),
            name: session.name().to_owned(),
        }))
    }

    async fn logout(
        &self,
        request: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        let session = self.session(&request)?;
        self.sessions.logout(&session).await?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn get_server_info(
        &self,
        _request: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        Ok(Response::new(GetServerInfoResponse {
            guests: self.sessions.admits_guests(),
        }))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let session = self.session(&request)?;
        Ok(Response::new(WhoAmIResponse {
            name: session.name().to_owned(),
            registered: session.user().is_account(),
        }))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        let (session, address) = self.account_session(&request)?;
        let ChangePasswordRequest {
            old_password,
            new_password,
        } = request.into_inner();
        let accounts = self.sessions.accounts();
        let name = session.name();
        accounts
            .check_password(name, &old_password, &address)
            .await
            .map_err(|_| wrong_password())?;
        accounts.set_password(name, &new_password).await?;
        accounts
            .revoke_sessions(name, "", Some(session.token()))
            .await?;
        self.sessions.end_revoked_sessions(name);
        tracing::info!(name, "password changed");
        Ok(Response::new(ChangePasswordResponse {}))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        let (session, address) = self.account_session(&request)?;
        let name = session.name();
        let accounts = self.sessions.accounts();
        accounts
            .check_password(name, &request.into_inner().password, &address)
            .await
            .map_err(|_| wrong_password())?;
        accounts.delete(name).await?;
        self.sessions.remove_account_user(name).await?;
        Ok(Response::new(DeleteAccountResponse {}))
    }

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let session = self.session(&request)?;
        let quota = ReplyQuota::of(request.extensions());
        let (_, extensions, subscribe) = request.into_parts();
        let cursors: HashMap<String, u64> = subscribe
            .cursors
            .into_iter()
            .map(|cursor| (cursor.room, cursor.last_seq))
            .collect();
        let events = events::open(
            &self.sessions,
            self.files.links().clone(),
            session,
            cursors,
            quota,
        )?;
        Ok(Response::new(hand_off(&extensions, events)))
    }

    async fn send_message(
        &self,
        request: Request<SendMessageRequest>,
    ) -> Result<Response<SendMessageResponse>, Status> {
        let meter = SendMeter::start(&request);
        let sent = async {
            let session = self.session(&request)?;
            let SendMessageRequest {
                room,
                text,
                client_message_id,
                reply_to,
                attachments,
            } = request.into_inner();
            let target = self.sessions.room_of(&session, &room).await?;
            let attachments = (self.files.attachments(&session, &attachments).await)
                .map_err(status::from_file)?;
            session
                .user()
                .take_send(self.sessions.max_sends_per_second())
                .inspect_err(|_| meter.limit_hit(Limit::SendsPerUser))?;
            let message = target
                .post(Draft {
                    sender: session.name().to_owned(),
                    origin: Origin::Native,
                    text,
                    client_id: Some(client_message_id).filter(|id| !id.is_empty()),
                    reply_to: Some(reply_to).filter(|&seq| seq != 0),
                    attachments,
                })
                .await
                .map_err(status::from_engine)?;
            self.sessions.sent(&session, &room, &message).await;
            Ok::<_, Status>(Response::new(SendMessageResponse {
                message: Some(convert::message(&room, &message, self.reader(&session))),
            }))
        }
        .await;
        meter.finish(&sent);
        sent
    }

    async fn edit_message(
        &self,
        request: Request<EditMessageRequest>,
    ) -> Result<Response<EditMessageResponse>, Status> {
        let session = self.session(&request)?;
        let EditMessageRequest { room, seq, text } = request.into_inner();
        let message = self
            .change(&session, &room, seq, ChangeKind::Edit(text))
            .await?;
        Ok(Response::new(EditMessageResponse {
            message: Some(message),
        }))
    }

    async fn delete_message(
        &self,
        request: Request<DeleteMessageRequest>,
    ) -> Result<Response<DeleteMessageResponse>, Status> {
        let session = self.session(&request)?;
        let DeleteMessageRequest { room, seq } = request.into_inner();
        self.change(&session, &room, seq, ChangeKind::Delete)
            .await?;
        Ok(Response::new(DeleteMessageResponse {}))
    }

    async fn react(
        &self,
        request: Request<ReactRequest>,
    ) -> Result<Response<ReactResponse>, Status> {
        let session = self.session(&request)?;
        let ReactRequest {
            room,
            seq,
            emoji,
            remove,
        } = request.into_inner();
        let kind = ChangeKind::React { emoji, remove };
        let message = self.change(&session, &room, seq, kind).await?;
        Ok(Response::new(ReactResponse {
            message: Some(message),
        }))
    }

    async fn mark_read(
        &self,
        request: Request<MarkReadRequest>,
    ) -> Result<Response<MarkReadResponse>, Status> {
        let session = self.session(&request)?;
        let MarkReadRequest { room, seq } = request.into_inner();
        self.sessions.mark_read(&session, &room, seq).await?;
        Ok(Response::new(MarkReadResponse {}))
    }

    async fn set_notify(
        &self,
        request: Request<SetNotifyRequest>,
    ) -> Result<Response<SetNotifyResponse>, Status> {
        let session = self.session(&request)?;
        let SetNotifyRequest { room, level } = request.into_inner();
        let level = convert::notify_level_from_wire(level)?;
        self.sessions.set_notify(&session, &room, level).await?;
        Ok(Response::new(SetNotifyResponse {}))
    }

    async fn set_typing(
        &self,
        request: Request<SetTypingRequest>,
    ) -> Result<Response<SetTypingResponse>, Status> {
        let session = self.session(&request)?;
        let SetTypingRequest { room, typing } = request.into_inner();
        self.sessions.set_typing(&session, &room, typing).await?;
        Ok(Response::new(SetTypingResponse {}))
    }

    async fn create_room(
        &self,
        request: Request<CreateRoomRequest>,
    ) -> Result<Response<CreateRoomResponse>, Status> {
        let session = self.session(&request)?;
        let CreateRoomRequest { room, private } = request.into_inner();
        let room = self.sessions.create_room(&session, &room, private).await?;
        Ok(Response::new(CreateRoomResponse {
            room: Some(convert::room(&room, session.name())),
        }))
    }

    async fn join_room(
        &self,
        request: Request<JoinRoomRequest>,
    ) -> Result<Response<JoinRoomResponse>, Status> {
        let session = self.session(&request)?;
        let room = self
            .sessions
            .join_room(&session, &request.into_inner().room)
            .await?;
        Ok(Response::new(JoinRoomResponse {
            room: Some(convert::room(&room, session.name())),
        }))
    }

    async fn leave_room(
        &self,
        request: Request<LeaveRoomRequest>,
    ) -> Result<Response<LeaveRoomResponse>, Status> {
        let session = self.session(&request)?;
        self.sessions
            .leave_room(&session, &request.into_inner().room)
            .await?;
        Ok(Response::new(LeaveRoomResponse {}))
    }

    async fn list_rooms(
        &self,
        request: Request<ListRoomsRequest>,
    ) -> Result<Response<ListRoomsResponse>, Status> {
        let session = self.session(&request)?;
        let quota = ReplyQuota::of(request.extensions());
        let ListRoomsRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let size = convert::page_size(page_size);
        let limits = self.sessions.engine().limits();
        quota.take(size * convert::most_room_bytes(&limits)).await;
        let me = session.name();
        let rooms: Vec<Room> = self
            .sessions
            .engine()
            .rooms_after(&page_token, size + 1, |room| room.is_visible_to(me))
            .iter()
            .map(|room| match session.user().is_in(room.name()) {
                true => convert::room_attending(room, me, self.sessions.attention(me, room)),
                false => convert::room(room, me),
            })
            .collect();
        let (rooms, next_page_token) = convert::page(rooms, size, |room| &room.name);
        Ok(Response::new(ListRoomsResponse {
            rooms,
            next_page_token,
        }))
    }

    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<ListMembersResponse>, Status> {
        let session = self.session(&request)?;
        let quota = ReplyQuota::of(request.extensions());
        let ListMembersRequest {
            room,
            page_size,
            page_token,
        } = request.into_inner();
        let engine = self.sessions.engine();
        let room = self.sessions.readable_room(&session, &room)?;
        let size = convert::page_size(page_size);
        let most_per_member = 4 * engine.limits().max_name_chars + FRAMING;
        quota.take(size * most_per_member).await;
        let names = room.members_after(&page_token, size + 1);
        let members = convert::members(engine, &room, names);
        let (members, next_page_token) = convert::page(members, size, |member| &member.name);
        Ok(Response::new(ListMembersResponse {
            members,
            next_page_token,
        }))
    }

    async fn search_messages(
        &self,
        request: Request<SearchMessagesRequest>,
    ) -> Result<Response<SearchMessagesResponse>, Status> {
        let session = self.session(&request)?;
        let quota = ReplyQuota::of(request.extensions());
        let SearchMessagesRequest {
            query,
            room,
            limit,
            page_token,
        } = request.into_inner();
        session.user().take_search()?;
        let terms = chat_engine::search::terms(&query).map_err(status::from_engine)?;
        let after = convert::search_place(&page_token)?;
        let limit = match limit {
            0 => chat_engine::search::DEFAULT_HITS,
            n => (n as usize).min(chat_engine::search::MOST_HITS),
        };
        let engine = self.sessions.engine();
        let limits = engine.limits();
        let most_per_message = limits.max_text_bytes + 4 * limits.max_name_chars + MESSAGE_OVERHEAD;
        quota.take(limit * most_per_message).await;
        let room = (!room.is_empty()).then_some(room.as_str());
        let found = engine
            .search(session.name(), &query, room, after, limit)
            .await
            .map_err(status::from_engine)?;
        let next_page_token = match found.last() {
            Some(last) if found.len() == limit => convert::search_page_token(last.place),
            _ => String::new(),
        };
        let hits = (found.iter())
            .map(|hit| SearchHit {
                message: Some(convert::message(
                    &hit.room,
                    &hit.message,
                    self.reader(&session),
                )),
            })
            .collect();
        Ok(Response::new(SearchMessagesResponse {
            hits,
            next_page_token,
            terms,
        }))
    }

    async fn get_history(
        &self,
        request: Request<GetHistoryRequest>,
    ) -> Result<Response<GetHistoryResponse>, Status> {
        let session = self.session(&request)?;
        let quota = ReplyQuota::of(request.extensions());
        let GetHistoryRequest {
            room,
            position,
            limit,
        } = request.into_inner();
        let engine = self.sessions.engine();
        // A lobby channel closed keeps its history readable; a deleted
        // room is not there, as if it never was.
        if engine.find_room(&room).is_some() {
            self.sessions.readable_room(&session, &room)?;
        } else if !is_channel_room(&room) || engine.last_seq(&room) == 0 {
            return Err(room_not_found(&room));
        }
        let limit = match limit {
            0 => HISTORY_PAGE.0,
            n => n.min(HISTORY_PAGE.1),
        } as usize;
        // Paid for before it is read: a client that does not read its
        // replies waits here, holding nothing.
        let limits = engine.limits();
        let most_per_message = limits.max_text_bytes + 4 * limits.max_name_chars + MESSAGE_OVERHEAD;
        quota
            .take((limit * most_per_message).min(HISTORY_PAGE_BYTES))
            .await;
        // One more than asked tells whether there is more.
        let (messages, older) = match position {
            Some(Position::AfterSeq(after)) => {
                (engine.history_after(&room, after, limit + 1).await, false)
            }
            Some(Position::BeforeSeq(before)) => {
                (engine.history_before(&room, before, limit + 1).await, true)
            }
            None => (
                engine.history_before(&room, u64::MAX, limit + 1).await,
                true,
            ),
        };
        let mut messages: Vec<_> = messages
            .map_err(|error| status::from_engine(error.into()))?
            .iter()
            .map(|m| convert::message(&room, m, self.reader(&session)))
            .collect();
        // Oldest first; an older page keeps its newest messages.
        if older {
            messages.reverse();
        }
        let mut bytes = 0;
        let fits = messages
            .iter()
            .take(limit)
            .take_while(|m| {
                bytes += m.encoded_len() + MESSAGE_OVERHEAD;
                bytes <= HISTORY_PAGE_BYTES
            })
            .count()
            .max(1);
        let has_more = messages.len() > fits;
        messages.truncate(fits);
        if older {
            messages.reverse();
        }
        Ok(Response::new(GetHistoryResponse { messages, has_more }))
    }

    async fn moderate_room(
        &self,
        request: Request<ModerateRoomRequest>,
    ) -> Result<Response<ModerateRoomResponse>, Status> {
        let session = self.session(&request)?;
        let ModerateRoomRequest { room, action } = request.into_inner();
        let action = convert::action_from_wire(action)?;
        let action = self.sessions.moderate(&session, &room, action).await?;
        Ok(Response::new(ModerateRoomResponse {
            action: Some(convert::action_to_wire(&action)),
        }))
    }

    async fn list_bans(
        &self,
        request: Request<ListBansRequest>,
    ) -> Result<Response<ListBansResponse>, Status> {
        let session = self.session(&request)?;
        let quota = ReplyQuota::of(request.extensions());
        let name = request.into_inner().room;
        let room = self.sessions.readable_room(&session, &name)?;
        if room.access().role_of(session.name()) == chat_engine::Role::Member {
            return Err(Status::permission_denied(format!(
                "only the owner and moderators of `{name}` may see whom it bans"
            )));
        }
        let names: Vec<String> = room.access().banned.values().cloned().collect();
        let most_per_name = 4 * self.sessions.engine().limits().max_name_chars + FRAMING;
        quota.take(names.len() * most_per_name).await;
        Ok(Response::new(ListBansResponse { names }))
    }

    async fn open_direct(
        &self,
        request: Request<OpenDirectRequest>,
    ) -> Result<Response<OpenDirectResponse>, Status> {
        let session = self.session(&request)?;
        let (room, created) = self
            .sessions
            .open_direct(&session, &request.into_inner().name)
            .await?;
        Ok(Response::new(OpenDirectResponse {
            room: Some(convert::room(&room, session.name())),
            created,
        }))
    }
}
