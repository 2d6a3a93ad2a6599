//! Attention over chat.v1: whom a message mentions, resolved by the
//! server for senders of every protocol.

mod common;

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
