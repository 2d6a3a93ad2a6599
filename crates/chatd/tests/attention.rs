//! Attention over chat.v1: whom a message mentions, resolved by the
//! server for senders of every protocol.

mod common;

use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::{MarkReadRequest, NotifyLevel, SetTypingRequest};
use common::native::*;
use common::*;

#[tokio::test]
async fn mentions_resolve_to_members_by_any_spelling_from_every_protocol() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut minji = NativeUser::login(addr, "민지").await;
    ann.join("general").await;
    minji.join("general").await;
    let mut events = ann.subscribe(&[]).await;

    // Upper case and a Cyrillic а both mean ann; a name not in the room,
    // an address and @room from a member are text.
    let said = minji
        .send(
            "general",
            "@ANN, @аnn and @carol: mail ann@example.com @room",
        )
        .await;
    assert_eq!(said.mentions, ["ann"]);
    assert!(!said.mentions_room, "only moderators mention the room");

    // A classic client's text is read the same way.
    let mut classic = server.classic_client().await;
    send(&mut classic, "bob", "hey @민지 and @Ann")
        .await
        .expect("SendNote");
    let mut from_classic = next_message(&mut events).await;
    while from_classic.sender != "bob" {
        from_classic = next_message(&mut events).await;
    }
    assert_eq!(from_classic.mentions, ["민지", "ann"]);
    let page = ann.history("general", None, 10).await;
    let kept: Vec<&[String]> = page.messages.iter().map(|m| &m.mentions[..]).collect();
    assert_eq!(
        kept,
        [&["ann".to_string()][..], &["민지".into(), "ann".into()]]
    );
}

#[tokio::test]
async fn the_owner_mentions_the_room() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    owner.create("dev").await;
    bob.join("dev").await;
    assert!(owner.send("dev", "standup in 5, @room").await.mentions_room);
    assert!(!bob.send("dev", "@room me too").await.mentions_room);
}

/// `room`'s unread and mention counts as `user` lists rooms.
async fn counts(user: &mut NativeUser, room: &str) -> (u32, u32) {
    let listed = user.rooms().await;
    let room = listed.iter().find(|r| r.name == room).expect("listed");
    (room.unread_count, room.mention_count)
}

async fn mark_read(user: &mut NativeUser, room: &str, seq: u64) -> Result<(), tonic::Status> {
    let request = user.req(MarkReadRequest {
        room: room.into(),
        seq,
    });
    user.client.mark_read(request).await.map(drop)
}

#[tokio::test]
async fn unread_counts_follow_the_marker_on_every_device_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let (ann_token, marked) = {
        let server = TestServer::start(&["--data-dir", dir]).await;
        let addr = server.addrs.native;
        let mut owner = NativeUser::account(addr, "owner").await;
        let mut ann = NativeUser::account(addr, "ann").await;
        owner.create("dev").await;
        owner.send("dev", "before ann came").await;
        ann.join("dev").await;
        assert_eq!(counts(&mut ann, "dev").await, (0, 0), "not before joining");
        let first = owner.send("dev", "one").await;
        owner.send("dev", "@ann, two").await;
        // A reaction is no message: it counts for nothing.
        owner
            .try_react("dev", first.seq, "👍", false)
            .await
            .unwrap();
        owner.send("dev", "three").await;
        assert_eq!(counts(&mut ann, "dev").await, (3, 1));
        assert_eq!(counts(&mut owner, "dev").await, (0, 0), "its own are read");

        // A second device hears the marker move.
        let mut phone = NativeUser::with_token(addr, "ann", &ann.token).await;
        let mut events = phone.subscribe(&[]).await;
        let refused = mark_read(&mut ann, "dev", 999).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        mark_read(&mut ann, "dev", first.seq + 1).await.unwrap();
        let moved = next_matching(&mut events, |event| match event {
            Kind::ReadMarker(marker) => Some(marker),
            _ => None,
        })
        .await;
        assert_eq!((moved.room.as_str(), moved.seq), ("dev", first.seq + 1));
        assert_eq!(counts(&mut phone, "dev").await, (1, 0));
        let listed = phone.rooms().await;
        let dev = listed.iter().find(|r| r.name == "dev").unwrap();
        assert_eq!(dev.read_seq, first.seq + 1);
        // Never back.
        mark_read(&mut ann, "dev", first.seq).await.unwrap();
        assert_eq!(counts(&mut ann, "dev").await, (1, 0));
        server.stop().await.unwrap();
        (ann.token.clone(), first.seq + 1)
    };
    let server = TestServer::start(&["--data-dir", dir]).await;
    let mut ann = NativeUser::with_token(server.addrs.native, "ann", &ann_token).await;
    assert_eq!(counts(&mut ann, "dev").await, (1, 0), "after a restart");
    let mut events = ann.subscribe(&[]).await;
    let joined = next_matching(&mut events, |event| match event {
        Kind::RoomJoined(joined) if joined.room == "dev" => Some(joined),
        _ => None,
    })
    .await;
    let details = joined.details.unwrap();
    assert_eq!((details.unread_count, details.mention_count), (1, 0));
    assert!(marked > 0);
}

#[tokio::test]
async fn a_room_left_forgets_the_marker_and_the_level() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = TestServer::start(&["--data-dir", dir]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    let mut ann = NativeUser::account(addr, "ann").await;
    owner.create("dev").await;
    ann.join("dev").await;
    let read = owner.send("dev", "read before leaving").await;
    mark_read(&mut ann, "dev", read.seq).await.unwrap();
    ann.try_set_notify("dev", NotifyLevel::None).await.unwrap();
    ann.leave("dev").await;
    owner.send("dev", "said while ann was away").await;
    let last = owner.send("dev", "and again").await;

    // Back in the room, what was said while away is not unread, and the
    // level is the room's default again.
    ann.join("dev").await;
    let listed = ann.rooms().await;
    let dev = listed.iter().find(|r| r.name == "dev").unwrap();
    let seen = (dev.unread_count, dev.read_seq, dev.notify());
    assert_eq!(seen, (0, last.seq, NotifyLevel::All));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_notification_level_is_kept_and_defaults_by_room_size() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    ann.join("general").await;
    let level = ann.notify_level("general").await;
    assert_eq!(level, NotifyLevel::All, "a small room");
    // Another device of the account hears of it at once.
    let mut phone = NativeUser::with_token(addr, "ann", &ann.token).await;
    let mut events = phone.subscribe(&[]).await;
    ann.try_set_notify("general", NotifyLevel::None)
        .await
        .unwrap();
    assert_eq!(ann.notify_level("general").await, NotifyLevel::None);
    let heard = next_matching(&mut events, |event| match event {
        Kind::NotifyChanged(changed) => Some((changed.room.clone(), changed.level())),
        _ => None,
    })
    .await;
    assert_eq!(heard, ("general".to_owned(), NotifyLevel::None));
    let unspecified = ann.try_set_notify("general", NotifyLevel::Unspecified);
    let refused = unspecified.await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn typing_reaches_the_others_and_ends_when_the_typist_sends() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut events = bob.subscribe(&[]).await;
    let typing = |user: &NativeUser, typing| {
        user.req(SetTypingRequest {
            room: "general".into(),
            typing,
        })
    };
    ann.client.set_typing(typing(&ann, true)).await.unwrap();
    let started = next_typing(&mut events).await;
    assert_eq!(started, ("general".into(), "ann".into(), true));
    ann.send("general", "here it is").await;
    let stopped = next_typing(&mut events).await;
    assert_eq!(stopped, ("general".into(), "ann".into(), false));
    // Not in the room: as for a send.
    let refused = ann
        .client
        .set_typing(ann.req(SetTypingRequest {
            room: "elsewhere".into(),
            typing: true,
        }))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
}

/// The next typing event: room, name, typing.
async fn next_typing(
    events: &mut tonic::Streaming<chat_proto::chat::v1::Event>,
) -> (String, String, bool) {
    next_matching(events, |event| match event {
        Kind::Typing(typing) => Some((typing.room, typing.name, typing.typing)),
        _ => None,
    })
    .await
}
