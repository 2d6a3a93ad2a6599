//! Private rooms, roles, moderation and direct conversations over real
//! loopback TCP: every action allowed to its role and refused to the one
//! below, bans, kicks, mutes and invitations as their targets feel them,
//! private rooms invisible to everyone else (other protocols too), and all
//! of it after a restart.

mod common;

use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::room_action::Action;
use chat_proto::chat::v1::*;
use chat_proto::lobby::command_request::Status as LobbyCommand;
use common::lobby::LobbyUser;
use common::native::*;
use common::*;
use tonic::Code;

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map(|_| ()).unwrap_err().code()
}

/// A public room `dev` owned by ann, with mo a moderator and mem, an
/// account, and gus, a guest, as members.
struct Cast {
    ann: NativeUser,
    mo: NativeUser,
    mem: NativeUser,
    gus: NativeUser,
}

async fn cast(addr: std::net::SocketAddr) -> Cast {
    let mut ann = NativeUser::account(addr, "ann").await;
    let mut mo = NativeUser::account(addr, "mo").await;
    let mut mem = NativeUser::account(addr, "mem").await;
    let mut gus = NativeUser::login(addr, "gus").await;
    ann.create("dev").await;
    for user in [&mut mo, &mut mem, &mut gus] {
        user.join("dev").await;
    }
    ann.moderate("dev", Action::Promote("mo".into()))
        .await
        .unwrap();
    Cast { ann, mo, mem, gus }
}

fn role_of(members: &[Member], name: &str) -> Role {
    members
        .iter()
        .find(|member| member.name == name)
        .unwrap_or_else(|| panic!("{name} is not a member: {members:?}"))
        .role()
}

fn is_member(members: &[Member], name: &str) -> bool {
    members.iter().any(|member| member.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_is_allowed_to_its_role_and_refused_to_the_one_below() {
    let server = TestServer::start(&[]).await;
    let Cast {
        mut ann,
        mut mo,
        mut mem,
        mut gus,
    } = cast(server.addrs.native).await;

    // Members (accounts or guests) take no action at all.
    for action in [
        Action::SetTopic("mine now".into()),
        Action::Invite("mo".into()),
        Action::Kick("gus".into()),
        Action::Ban("gus".into()),
        Action::Mute("gus".into()),
        Action::Promote("gus".into()),
        Action::Delete(true),
    ] {
        for user in [&mut mem, &mut gus] {
            let refused = user.moderate("dev", action.clone()).await.unwrap_err();
            assert_eq!(refused.code(), Code::PermissionDenied, "{action:?}");
            assert!(
                refused.message().contains("only the room's owner"),
                "{refused:?}"
            );
        }
    }

    // Moderators set the topic, mute, kick, ban and unban ...
    let taken = mo
        .moderate("dev", Action::SetTopic("Rust, mostly".into()))
        .await
        .unwrap();
    assert_eq!(taken, Action::SetTopic("Rust, mostly".into()));
    mo.moderate("dev", Action::Mute("GUS".into()))
        .await
        .unwrap();
    let members = ann.members("dev").await;
    assert!(
        members.iter().any(|m| m.name == "gus" && m.muted),
        "{members:?}"
    );
    mo.moderate("dev", Action::Unmute("gus".into()))
        .await
        .unwrap();
    mo.moderate("dev", Action::Kick("mem".into()))
        .await
        .unwrap();
    mem.join("dev").await;
    mo.moderate("dev", Action::Ban("mem".into())).await.unwrap();
    mo.moderate("dev", Action::Unban("mem".into()))
        .await
        .unwrap();
    mem.join("dev").await;
    // ... but never act on their own rank or above, nor do the owner's part.
    for action in [
        Action::Kick("ann".into()),
        Action::Ban("ann".into()),
        Action::Promote("mem".into()),
        Action::Demote("mo".into()),
        Action::TransferOwnership("mem".into()),
        Action::Delete(true),
    ] {
        assert_eq!(
            code(mo.moderate("dev", action.clone()).await),
            Code::PermissionDenied,
            "{action:?}"
        );
    }
    let room = ann.join("dev").await;
    assert_eq!(
        (room.topic.as_str(), room.owner.as_str()),
        ("Rust, mostly", "ann")
    );

    // The owner promotes and demotes; guests never moderate.
    ann.moderate("dev", Action::Promote("mem".into()))
        .await
        .unwrap();
    assert_eq!(role_of(&ann.members("dev").await, "mem"), Role::Moderator);
    ann.moderate("dev", Action::Demote("mem".into()))
        .await
        .unwrap();
    assert_eq!(role_of(&ann.members("dev").await, "mem"), Role::Member);
    assert_eq!(
        code(ann.moderate("dev", Action::Promote("gus".into())).await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code(
            ann.moderate("dev", Action::Kick("nobody-here".into()))
                .await
        ),
        Code::NotFound
    );
    // Handing over: the old owner stays as a moderator.
    ann.moderate("dev", Action::TransferOwnership("mo".into()))
        .await
        .unwrap();
    let members = mo.members("dev").await;
    assert_eq!(role_of(&members, "mo"), Role::Owner);
    assert_eq!(role_of(&members, "ann"), Role::Moderator);
    assert_eq!(
        code(ann.moderate("dev", Action::Delete(true)).await),
        Code::PermissionDenied
    );
    mo.moderate("dev", Action::Delete(true)).await.unwrap();
    assert_eq!(code(gus.try_join("dev").await), Code::NotFound);
    assert!(!mem.rooms().await.iter().any(|room| room.name == "dev"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kicked_may_come_back_banned_may_not_and_muted_read_but_do_not_send() {
    let server = TestServer::start(&[]).await;
    let Cast {
        mut ann,
        mut mem,
        gus,
        ..
    } = cast(server.addrs.native).await;
    let mut ann_events = ann.subscribe(&[]).await;
    let mut mem_events = mem.subscribe(&[]).await;

    ann.moderate("dev", Action::Kick("mem".into()))
        .await
        .unwrap();
    let changed = next_matching(&mut ann_events, |k| match k {
        Kind::RoomChanged(changed) => Some(changed),
        _ => None,
    })
    .await;
    assert_eq!(changed.actor, "ann");
    assert_eq!(
        changed.action.unwrap().action,
        Some(Action::Kick("mem".into()))
    );
    let left = next_matching(&mut mem_events, |k| match k {
        Kind::RoomLeft(left) => Some(left),
        _ => None,
    })
    .await;
    assert_eq!(
        (left.room.as_str(), left.reason.as_str()),
        ("dev", "kicked by ann")
    );
    assert!(!is_member(&ann.members("dev").await, "mem"));
    assert_eq!(
        code(mem.try_send("dev", "still here?", "").await),
        Code::FailedPrecondition
    );
    mem.join("dev").await;

    // A ban holds for the account by any spelling, and for a guest's name.
    ann.moderate("dev", Action::Ban("MEM".into()))
        .await
        .unwrap();
    let left = next_matching(&mut mem_events, |k| match k {
        Kind::RoomLeft(left) => Some(left),
        _ => None,
    })
    .await;
    assert_eq!(left.reason, "banned by ann");
    let refused = mem.try_join("dev").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("banned"), "{refused:?}");
    ann.moderate("dev", Action::Ban("gus".into()))
        .await
        .unwrap();
    drop(gus);
    let mut bans = ann
        .client
        .list_bans(ann.req(ListBansRequest { room: "dev".into() }))
        .await
        .unwrap()
        .into_inner()
        .names;
    bans.sort();
    assert_eq!(bans, ["gus", "mem"]);
    assert_eq!(
        code(
            mem.client
                .list_bans(mem.req(ListBansRequest { room: "dev".into() }))
                .await
        ),
        Code::PermissionDenied
    );
    ann.moderate("dev", Action::Unban("mem".into()))
        .await
        .unwrap();
    mem.join("dev").await;

    // Muted: reads, cannot send.
    ann.moderate("dev", Action::Mute("mem".into()))
        .await
        .unwrap();
    let refused = mem.try_send("dev", "let me speak", "").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("muted"), "{refused:?}");
    ann.send("dev", "read this").await;
    assert_eq!(next_message(&mut mem_events).await.text, "read this");
    ann.moderate("dev", Action::Unmute("mem".into()))
        .await
        .unwrap();
    assert_eq!(mem.send("dev", "thanks").await.seq, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_room_is_invisible_to_all_but_its_members_and_invitees() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    let mut bob = NativeUser::account(addr, "bob").await;
    let mut eve = NativeUser::login(addr, "eve").await;
    let mut gus = NativeUser::login(addr, "gus").await;
    let mut eve_events = eve.subscribe(&[]).await;
    let mut lobby_user = LobbyUser::login(server.addrs.agent).await;
    let channels_before = lobby_user.command(LobbyCommand::ListChannels, None).await;

    let room = ann.try_create("secret", true).await.unwrap();
    assert!(room.private);
    ann.send("secret", "for members only").await;
    assert_eq!(
        code(
            NativeUser::login(addr, "carl")
                .await
                .try_create("x", false)
                .await
        ),
        Code::PermissionDenied,
        "only accounts create rooms"
    );

    // To outsiders it is not there at all.
    for outsider in [&mut eve, &mut bob] {
        assert!(!outsider.rooms().await.iter().any(|r| r.name == "secret"));
        assert_eq!(code(outsider.try_join("secret").await), Code::NotFound);
        let request = outsider.req(GetHistoryRequest {
            room: "secret".into(),
            ..Default::default()
        });
        assert_eq!(
            code(outsider.client.get_history(request).await),
            Code::NotFound
        );
        let request = outsider.req(ListMembersRequest {
            room: "secret".into(),
            ..Default::default()
        });
        assert_eq!(
            code(outsider.client.list_members(request).await),
            Code::NotFound
        );
        assert_eq!(
            code(
                outsider
                    .moderate("secret", Action::SetTopic("hi".into()))
                    .await
            ),
            Code::NotFound
        );
    }
    // Other protocols never reach it: a classic client has `general`, a
    // lobby user sees the same channels as before.
    let mut classic = server.classic_client().await;
    let mut notes = chat_stream(&mut classic).await;
    send(&mut classic, "bystander", "in general").await.unwrap();
    assert_eq!(read_notes(&mut notes, 1).await[0].message, "in general");
    let channels_after = lobby_user.command(LobbyCommand::ListChannels, None).await;
    assert_eq!(channels_after.channels, channels_before.channels);

    // An invitation: the guest is told, sees it, may join and read.
    let nobody = ann
        .moderate("secret", Action::Invite("nobody".into()))
        .await;
    assert_eq!(code(nobody), Code::NotFound);
    ann.moderate("secret", Action::Invite("Eve".into()))
        .await
        .unwrap();
    let invited = next_matching(&mut eve_events, |k| match k {
        Kind::Invited(invited) => Some(invited),
        Kind::RoomCreated(created) => panic!("a private room was announced: {created:?}"),
        _ => None,
    })
    .await;
    assert_eq!(
        (invited.room.as_str(), invited.by.as_str()),
        ("secret", "ann")
    );
    assert!(
        eve.rooms()
            .await
            .iter()
            .any(|r| r.name == "secret" && r.private)
    );
    let request = eve.req(GetHistoryRequest {
        room: "secret".into(),
        ..Default::default()
    });
    assert_eq!(
        code(eve.client.get_history(request).await),
        Code::PermissionDenied,
        "an invitee reads once it has joined"
    );
    eve.join("secret").await;
    let history = eve.history("secret", None, 10).await;
    assert_eq!(history.messages[0].text, "for members only");
    // Kicked: the invitation still holds. Banned: out, and out of sight.
    ann.moderate("secret", Action::Kick("eve".into()))
        .await
        .unwrap();
    eve.join("secret").await;
    ann.moderate("secret", Action::Ban("eve".into()))
        .await
        .unwrap();
    assert_eq!(code(eve.try_join("secret").await), Code::NotFound);
    assert!(!eve.rooms().await.iter().any(|r| r.name == "secret"));
    let request = eve.req(GetHistoryRequest {
        room: "secret".into(),
        ..Default::default()
    });
    assert_eq!(code(eve.client.get_history(request).await), Code::NotFound);

    // A guest's invitation ends with its session: the next to take the
    // name does not inherit it.
    ann.moderate("secret", Action::Invite("gus".into()))
        .await
        .unwrap();
    gus.client.logout(gus.req(LogoutRequest {})).await.unwrap();
    let mut other_gus = NativeUser::login(addr, "gus").await;
    assert_eq!(code(other_gus.try_join("secret").await), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_conversation_is_one_room_for_two_accounts() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    let mut bob = NativeUser::account(addr, "bob").await;
    let mut eve = NativeUser::account(addr, "eve").await;
    let mut guest = NativeUser::login(addr, "guest").await;
    let mut bob_events = bob.subscribe(&[]).await;

    let opened = ann.open_direct("BOB").await.unwrap();
    let room = opened.room.unwrap();
    assert!(opened.created && room.direct && room.private);
    assert_eq!((room.peer.as_str(), room.owner.as_str()), ("bob", ""));
    let joined = next_matching(&mut bob_events, |k| match k {
        Kind::RoomJoined(joined) if joined.room == room.name => Some(joined),
        _ => None,
    })
    .await;
    assert_eq!(joined.details.unwrap().peer, "ann", "each sees the other");
    let again = bob.open_direct("ann").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.room.unwrap().name, room.name, "one room per pair");

    ann.send(&room.name, "just us").await;
    assert_eq!(next_message(&mut bob_events).await.text, "just us");
    // Leaving hides it until the other writes again.
    bob.leave(&room.name).await;
    ann.send(&room.name, "come back").await;
    let message = next_message(&mut bob_events).await;
    assert_eq!(
        (message.room.as_str(), message.text.as_str()),
        (room.name.as_str(), "come back")
    );

    // Nobody else sees it, and nobody moderates it.
    assert!(!eve.rooms().await.iter().any(|r| r.name == room.name));
    assert_eq!(code(eve.try_join(&room.name).await), Code::NotFound);
    assert_eq!(
        code(ann.moderate(&room.name, Action::Invite("eve".into())).await),
        Code::PermissionDenied
    );
    // Accounts only.
    assert_eq!(code(guest.open_direct("ann").await), Code::PermissionDenied);
    assert_eq!(code(ann.open_direct("guest").await), Code::NotFound);
    assert_eq!(code(ann.open_direct("ann").await), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_bans_invitations_and_direct_conversations_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let direct = {
        let server = TestServer::start(&["--data-dir", dir]).await;
        let Cast {
            mut ann, mut mem, ..
        } = cast(server.addrs.native).await;
        let mut eve = NativeUser::account(server.addrs.native, "eve").await;
        ann.moderate("dev", Action::SetTopic("kept".into()))
            .await
            .unwrap();
        ann.moderate("dev", Action::Mute("mem".into()))
            .await
            .unwrap();
        ann.moderate("dev", Action::Ban("eve".into()))
            .await
            .unwrap();
        ann.try_create("secret", true).await.unwrap();
        ann.moderate("secret", Action::Invite("mem".into()))
            .await
            .unwrap();
        let direct = mem.open_direct("ann").await.unwrap().room.unwrap().name;
        assert_eq!(code(eve.try_join("dev").await), Code::PermissionDenied);
        server.stop().await.unwrap();
        direct
    };
    let server = TestServer::start(&["--data-dir", dir]).await;
    let addr = server.addrs.native;
    let login = |name: &'static str| NativeUser::try_login_with(addr, name, PASSWORD);
    let mut ann = login("ann").await.unwrap();
    let mut mem = login("mem").await.unwrap();
    let mut eve = login("eve").await.unwrap();

    let members = ann.members("dev").await;
    assert_eq!(role_of(&members, "ann"), Role::Owner);
    assert_eq!(role_of(&members, "mo"), Role::Moderator);
    assert!(members.iter().any(|m| m.name == "mem" && m.muted));
    assert_eq!(ann.join("dev").await.topic, "kept");
    assert_eq!(
        code(mem.try_send("dev", "muted still", "").await),
        Code::PermissionDenied
    );
    assert_eq!(code(eve.try_join("dev").await), Code::PermissionDenied);
    assert!(!eve.rooms().await.iter().any(|r| r.name == "secret"));
    let mut events = mem.subscribe(&[]).await;
    let invited = next_matching(&mut events, |k| match k {
        Kind::Invited(invited) => Some(invited),
        _ => None,
    })
    .await;
    assert_eq!(invited.room, "secret");
    mem.join("secret").await;
    let again = mem.open_direct("ann").await.unwrap();
    assert_eq!((again.room.unwrap().name, again.created), (direct, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_its_rooms_to_their_first_moderator() {
    let server = TestServer::start(&[]).await;
    let Cast {
        mut ann, mut mo, ..
    } = cast(server.addrs.native).await;
    ann.client
        .delete_account(ann.req(DeleteAccountRequest {
            password: PASSWORD.into(),
        }))
        .await
        .unwrap();
    let members = mo.members("dev").await;
    assert_eq!(role_of(&members, "mo"), Role::Owner);
    assert!(!is_member(&members, "ann"));
    // Whoever takes the name next owns nothing.
    let mut new_ann = NativeUser::account(server.addrs.native, "ann").await;
    new_ann.join("dev").await;
    assert_eq!(
        code(new_ann.moderate("dev", Action::Kick("mo".into())).await),
        Code::PermissionDenied
    );
}
