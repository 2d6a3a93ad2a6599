//! Messages that change, over chat.v1: edits, deletions and reactions
//! reach the room's members and history, only those allowed make them, a
//! client that resumes gets those it missed, and the classic protocol
//! sees only messages as they are.

mod common;

use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::room_action::Action;
use chat_proto::classic::Note;
use common::native::*;
use common::*;
use tonic::Code;

#[tokio::test]
async fn edits_reactions_and_deletions_reach_members_and_history() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut events = bob.subscribe(&[]).await;
    let typo = ann.send("general", "helo").await;
    assert_eq!(next_message(&mut events).await.text, "helo");

    let edited = ann.try_edit("general", typo.seq, "hello").await.unwrap();
    assert_eq!((edited.seq, edited.text.as_str()), (typo.seq, "hello"));
    assert!(edited.edited_at.is_some());
    let update = next_update(&mut events).await;
    assert_eq!(update.message.as_ref(), Some(&edited));
    assert!(update.seq > typo.seq, "a change has a number of its own");

    let reacted = bob
        .try_react("general", typo.seq, ":thumbsup:", false)
        .await
        .unwrap();
    let thumbs: Vec<_> = reacted
        .reactions
        .iter()
        .map(|r| (r.emoji.as_str(), r.count, r.names.clone()))
        .collect();
    assert_eq!(thumbs, [("👍", 1, vec!["bob".to_string()])]);
    let again = bob
        .try_react("general", typo.seq, "👍", false)
        .await
        .unwrap();
    assert_eq!(again, reacted, "one reaction per emoji and user");
    let next = next_update(&mut events).await;
    assert_eq!(next.message.unwrap().reactions, reacted.reactions);
    assert_eq!(next.seq, update.seq + 1);

    ann.try_delete("general", typo.seq).await.unwrap();
    let gone = next_update(&mut events).await.message.unwrap();
    assert!(gone.deleted && gone.text.is_empty() && gone.reactions.is_empty());
    assert_eq!(gone.deleted_by, "", "its sender deleted it");
    let page = bob.history("general", None, 10).await;
    assert_eq!(page.messages, [gone], "history shows the tombstone only");
    // A room's numbers count changes: the next message follows them.
    assert_eq!(ann.send("general", "next").await.seq, typo.seq + 4);
}

#[tokio::test]
async fn only_the_sender_edits_and_only_it_or_a_moderator_deletes() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    let mut bob = NativeUser::account(addr, "bob").await;
    let mut cy = NativeUser::login(addr, "cy").await;
    owner.create("dev").await;
    bob.join("dev").await;
    cy.join("dev").await;
    let said = bob.send("dev", "mine").await;

    let refused = owner.try_edit("dev", said.seq, "yours").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(refused.message(), "only its sender may edit a message");
    let refused = cy.try_delete("dev", said.seq).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(
        refused.message(),
        "only its sender, or a moderator of `dev`, may delete a message"
    );

    let mut events = bob.subscribe(&[]).await;
    owner.try_delete("dev", said.seq).await.unwrap();
    let gone = next_update(&mut events).await.message.unwrap();
    assert_eq!((gone.deleted, gone.deleted_by.as_str()), (true, "owner"));
    let refused = bob.try_edit("dev", said.seq, "back").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        refused.message(),
        format!("message {} in room `dev` was deleted", said.seq)
    );

    // A guest's messages are its own while its session lasts: whoever
    // takes the name later cannot change them.
    let guest_said = cy.send("dev", "from the first cy").await;
    cy.try_edit("dev", guest_said.seq, "still mine")
        .await
        .unwrap();
    cy.logout().await;
    let mut new_cy = NativeUser::login(addr, "cy").await;
    new_cy.join("dev").await;
    let refused = new_cy
        .try_edit("dev", guest_said.seq, "taken over")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let refused = new_cy.try_delete("dev", guest_said.seq).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // Anyone in the room may react, a guest too.
    new_cy
        .try_react("dev", guest_said.seq, "🎉", false)
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_changes_are_refused_with_what_to_do() {
    let server =
        TestServer::start(&["--max-reactions", "2", "--max-reactions-per-user", "2"]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    owner.create("dev").await;
    ann.join("dev").await;
    bob.join("dev").await;
    let said = ann.send("dev", "hi").await;
    let check = |outcome: Result<chat_proto::chat::v1::Message, tonic::Status>,
                 code: Code,
                 message: &str| {
        let status = outcome.unwrap_err();
        assert_eq!((status.code(), status.message()), (code, message));
    };
    check(
        bob.try_react("dev", said.seq, "thumbsup", false).await,
        Code::InvalidArgument,
        "`thumbsup` is not an emoji: react with one emoji, or a shortcode such as :thumbsup:",
    );
    check(
        bob.try_react("dev", said.seq, "👍👍", false).await,
        Code::InvalidArgument,
        "`👍👍` is not an emoji: react with one emoji, or a shortcode such as :thumbsup:",
    );
    check(
        ann.try_edit("dev", said.seq, " ").await,
        Code::InvalidArgument,
        "the message is empty; send at least one character",
    );
    check(
        ann.try_edit("dev", 99, "x").await,
        Code::InvalidArgument,
        "there is no message 99 in room `dev`",
    );
    bob.try_react("dev", said.seq, "👍", false).await.unwrap();
    bob.try_react("dev", said.seq, "🎉", false).await.unwrap();
    check(
        ann.try_react("dev", said.seq, "❤️", false).await,
        Code::FailedPrecondition,
        "the message has 2 different reactions, the most it may; add to one of them",
    );
    let reaction_seq = said.seq + 1;
    check(
        ann.try_edit("dev", reaction_seq, "x").await,
        Code::InvalidArgument,
        &format!("there is no message {reaction_seq} in room `dev`"),
    );
    let other = ann.send("dev", "two").await;
    bob.try_react("dev", other.seq, "👍", false).await.unwrap();
    bob.try_react("dev", other.seq, "🎉", false).await.unwrap();
    check(
        bob.try_react("dev", other.seq, "❤️", false).await,
        Code::FailedPrecondition,
        "the message has 2 different reactions, the most it may; add to one of them",
    );
    owner
        .moderate("dev", Action::Mute("bob".into()))
        .await
        .unwrap();
    check(
        bob.try_react("dev", other.seq, "👍", true).await,
        Code::PermissionDenied,
        "you are muted in room `dev`: you may read it, but not send to it",
    );
    check(
        bob.try_edit("dev", said.seq, "x").await,
        Code::PermissionDenied,
        "you are muted in room `dev`: you may read it, but not send to it",
    );
    // Not in the room: as for a send.
    let mut stranger = NativeUser::login(addr, "stranger").await;
    let refused = stranger
        .try_react("dev", said.seq, "👍", false)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
}

#[tokio::test]
async fn a_client_that_resumes_gets_the_changes_it_missed_once_and_in_order() {
    // A window of 2: the changes are read back from history.
    for window in ["4096", "2"] {
        let server = TestServer::start(&["--recent-window", window]).await;
        let addr = server.addrs.native;
        let mut ann = NativeUser::login(addr, "ann").await;
        let mut bob = NativeUser::login(addr, "bob").await;
        ann.join("general").await;
        bob.join("general").await;
        let mut events = bob.subscribe(&[]).await;
        let first = ann.send("general", "first").await;
        let second = ann.send("general", "second").await;
        assert_eq!(next_message(&mut events).await.seq, first.seq);
        assert_eq!(next_message(&mut events).await.seq, second.seq);
        drop(events);

        ann.try_edit("general", first.seq, "first, edited")
            .await
            .unwrap();
        ann.try_react("general", second.seq, "👀", false)
            .await
            .unwrap();
        ann.try_delete("general", first.seq).await.unwrap();
        let last = ann.send("general", "after").await;

        let mut events = bob.subscribe(&[("general", second.seq)]).await;
        let mut seen = Vec::new();
        loop {
            match next_event(&mut events).await {
                Kind::MessageUpdated(update) => {
                    let message = update.message.unwrap();
                    seen.push((update.seq, message.seq, message.deleted));
                }
                Kind::Message(message) => {
                    assert_eq!(message.seq, last.seq, "window {window}");
                    break;
                }
                _ => {}
            }
        }
        let (edit, react, delete) = (second.seq + 1, second.seq + 2, second.seq + 3);
        assert_eq!(
            seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            [edit, react, delete]
        );
        assert_eq!(seen[1].1, second.seq);
        assert_eq!(seen[2], (delete, first.seq, true), "window {window}");
        // Each change is read with its message as it is now: the edit of a
        // message deleted since does not bring its text back.
        assert_eq!(seen[0], (edit, first.seq, true), "window {window}");
    }
}

#[tokio::test]
async fn the_classic_protocol_replays_messages_as_they_are_without_deleted_ones() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    ann.join("general").await;
    let mut classic = server.classic_client().await;
    let mut live = chat_stream(&mut classic).await;
    let texts = |notes: Vec<Note>| -> Vec<String> {
        notes
            .into_iter()
            .map(|n| format!("{}: {}", n.name, n.message))
            .collect()
    };
    let kept = ann.send("general", "keep me").await;
    let dropped = ann.send("general", "drop me").await;
    assert_eq!(
        texts(read_notes(&mut live, 2).await),
        ["ann: keep me", "ann: drop me"]
    );
    ann.try_edit("general", kept.seq, "kept, edited")
        .await
        .unwrap();
    ann.try_react("general", kept.seq, "👍", false)
        .await
        .unwrap();
    ann.try_delete("general", dropped.seq).await.unwrap();
    let reply = ann.try_reply("general", "a reply", kept.seq).await.unwrap();
    assert!(reply.seq > kept.seq);
    // Live: new messages only, a reply as its text.
    assert_eq!(texts(read_notes(&mut live, 1).await), ["ann: a reply"]);
    let marker = ann.send("general", "the end").await;
    assert!(marker.seq > reply.seq);
    assert_eq!(texts(read_notes(&mut live, 1).await), ["ann: the end"]);
    // A new stream's replay: messages as they are now, the deleted left out.
    let mut replay = chat_stream(&mut classic).await;
    assert_eq!(
        texts(read_notes(&mut replay, 3).await),
        ["ann: kept, edited", "ann: a reply", "ann: the end"]
    );
}
