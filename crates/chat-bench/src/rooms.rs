//! `chat-bench rooms`: what private rooms and moderation cost on a server
//! full of rooms. Listing rooms filters out the private ones a user may
//! not see, a new event stream looks through every room for the user's
//! invitations, and opening a direct conversation looks through every room
//! for the pair's: each grows with the number of rooms, so they are timed
//! with the server holding many.

use anyhow::Context;
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::chat::v1::{
    CreateRoomRequest, JoinRoomRequest, ListRoomsRequest, ModerateRoomRequest, OpenDirectRequest,
    RegisterRequest, RoomAction, SubscribeRequest, room_action,
};
use clap::Args;
use tonic::transport::Channel;

use crate::fanout::{authorized, connect};
use crate::login::time;
use crate::target::{Target, TargetArgs};

#[derive(Debug, Args)]
pub struct RoomsArgs {
    /// Rooms on the server, every other one private.
    #[arg(long, default_value_t = 5000)]
    rooms: usize,
    /// Calls of each kind, one after another.
    #[arg(long, short = 'n', default_value_t = 200)]
    count: usize,
    #[command(flatten)]
    target: TargetArgs,
}

/// An account's session on its own connection.
#[derive(Clone)]
struct Account {
    client: ChatServiceClient<Channel>,
    token: String,
}

impl Account {
    async fn register(channel: Channel, name: String) -> anyhow::Result<Self> {
        let mut client = ChatServiceClient::new(channel);
        let reply = client
            .register(RegisterRequest {
                name,
                password: "a benchmark's password".into(),
            })
            .await?;
        Ok(Account {
            client,
            token: reply.into_inner().session_token,
        })
    }

    async fn moderate(&self, room: &str, action: room_action::Action) -> anyhow::Result<()> {
        let request = ModerateRoomRequest {
            room: room.into(),
            action: Some(RoomAction {
                action: Some(action),
            }),
        };
        self.client
            .clone()
            .moderate_room(authorized(request, &self.token))
            .await?;
        Ok(())
    }
}

pub async fn run(args: RoomsArgs) -> anyhow::Result<()> {
    let most = (args.rooms + 10).to_string();
    let target = Target::start(
        &args.target,
        &[
            "--max-rooms",
            &most,
            "--max-rooms-created-per-user",
            &most,
            "--max-rooms-per-user",
            &most,
            "--rooms-created-per-hour",
            "4000000000",
        ],
    )
    .await?;
    let channel = connect(target.native).await?;
    let tag = std::process::id();
    let owner = Account::register(channel.clone(), format!("owner{tag}")).await?;
    let member = Account::register(channel.clone(), format!("member{tag}")).await?;
    let outsider = Account::register(channel.clone(), format!("outsider{tag}")).await?;

    let rooms: Vec<String> = (0..args.rooms).map(|i| format!("r{tag}-{i}")).collect();
    let created = time(&target, rooms.len(), 1, {
        let (owner, rooms) = (owner.clone(), rooms.clone());
        move |i| {
            let (mut client, token) = (owner.client.clone(), owner.token.clone());
            let request = CreateRoomRequest {
                room: rooms[i].clone(),
                private: i % 2 == 1,
            };
            async move {
                client.create_room(authorized(request, &token)).await?;
                Ok(())
            }
        }
    })
    .await?;
    println!(
        "{} rooms, every other one private, {} calls of each kind one after another",
        args.rooms, args.count
    );
    created.print("CreateRoom");

    // The member is in the first room; the outsider is invited to ten.
    let first = rooms.first().context("--rooms must be at least 2")?.clone();
    member
        .client
        .clone()
        .join_room(authorized(
            JoinRoomRequest {
                room: first.clone(),
            },
            &member.token,
        ))
        .await?;
    let outsider_name = format!("outsider{tag}");
    for room in rooms.iter().skip(1).step_by(2).take(10) {
        owner
            .moderate(room, room_action::Action::Invite(outsider_name.clone()))
            .await?;
    }

    let member_name = format!("member{tag}");
    let moderated = time(&target, args.count, 1, {
        let (owner, first) = (owner.clone(), first.clone());
        move |i| {
            let (owner, first, name) = (owner.clone(), first.clone(), member_name.clone());
            async move {
                let action = if i % 2 == 0 {
                    room_action::Action::Mute(name)
                } else {
                    room_action::Action::Unmute(name)
                };
                owner.moderate(&first, action).await
            }
        }
    })
    .await?;
    moderated.print("ModerateRoom (mute, unmute)");

    for (who, account) in [("outsider", &outsider), ("owner", &owner)] {
        let listed = time(&target, args.count, 1, {
            let account = account.clone();
            move |_| {
                let (mut client, token) = (account.client.clone(), account.token.clone());
                async move {
                    let request = ListRoomsRequest {
                        page_size: 100,
                        page_token: String::new(),
                    };
                    client.list_rooms(authorized(request, &token)).await?;
                    Ok(())
                }
            }
        })
        .await?;
        listed.print(&format!("ListRooms, 100, as the {who}"));
    }

    let subscribed = time(&target, args.count, 1, {
        let outsider = outsider.clone();
        move |_| {
            let (mut client, token) = (outsider.client.clone(), outsider.token.clone());
            async move {
                let request = authorized(SubscribeRequest::default(), &token);
                let mut events = client.subscribe(request).await?.into_inner();
                // The first event is an invitation, found by looking
                // through every room.
                events.message().await?.context("the stream ended")?;
                Ok(())
            }
        }
    })
    .await?;
    subscribed.print("Subscribe, to the first invitation");

    let direct = time(&target, args.count, 1, {
        let (owner, member) = (owner.clone(), format!("member{tag}"));
        move |_| {
            let (mut client, token) = (owner.client.clone(), owner.token.clone());
            let request = OpenDirectRequest {
                name: member.clone(),
            };
            async move {
                client.open_direct(authorized(request, &token)).await?;
                Ok(())
            }
        }
    })
    .await?;
    direct.print("OpenDirect (found among them)");
    Ok(())
}
