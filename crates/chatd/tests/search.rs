//! Search over chat.v1: only in rooms the asker may read now, text
//! without spaces between words, pages, and the limits.

mod common;

use chat_proto::chat::v1::room_action::Action;
use common::native::*;
use common::*;
use tonic::Code;

#[tokio::test]
async fn search_finds_only_what_the_asker_may_read_now() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    let mut bob = NativeUser::account(addr, "bob").await;
    owner.join("general").await;
    owner
        .send("general", "안녕하세요 여러분, the plan is public")
        .await;
    owner.try_create("ops", true).await.unwrap();
    owner.send("ops", "the secret plan").await;
    owner.create("dev").await;
    owner.send("dev", "a plan for the banned").await;
    owner
        .moderate("dev", Action::Ban("bob".into()))
        .await
        .unwrap();

    // Korean without spaces; the owner reads all three rooms, bob only
    // the public room he is not banned from.
    assert_eq!(
        bob.search("안녕", "", 10).await,
        ["general: 안녕하세요 여러분, the plan is public"]
    );
    assert_eq!(owner.search("PLAN", "", 10).await.len(), 3);
    assert_eq!(bob.search("plan", "", 10).await.len(), 1);
    let hidden = bob.try_search("plan", "ops", 10, "").await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "{hidden:?}");
    let banned = bob.try_search("plan", "dev", 10, "").await.unwrap_err();
    assert_eq!(banned.code(), Code::PermissionDenied, "{banned:?}");

    // Invited and in, bob finds the private room's text.
    owner
        .moderate("ops", Action::Invite("bob".into()))
        .await
        .unwrap();
    bob.join("ops").await;
    assert_eq!(bob.search("secret", "", 10).await, ["ops: the secret plan"]);
    // Out again: not any more.
    bob.leave("ops").await;
    assert!(bob.search("secret", "", 10).await.is_empty());
}

#[tokio::test]
async fn pages_newest_first_and_the_limits() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    ann.join("general").await;
    for n in 1..=5 {
        ann.send("general", &format!("note {n}")).await;
    }
    let notes: Vec<String> = (1..=5)
        .rev()
        .map(|n| format!("general: note {n}"))
        .collect();
    assert_eq!(ann.search("note", "", 2).await, notes);
    let first = ann.try_search("note", "", 2, "").await.unwrap();
    assert_eq!(first.terms, ["note"]);

    let refused = |query: String, token: &'static str| {
        let mut ann = ann.clone();
        async move {
            ann.try_search(&query, "", 0, token)
                .await
                .unwrap_err()
                .code()
        }
    };
    assert_eq!(refused("  ".into(), "").await, Code::InvalidArgument);
    assert_eq!(refused("x".repeat(201), "").await, Code::InvalidArgument);
    assert_eq!(
        refused("a b c d e f g h i j k".into(), "").await,
        Code::InvalidArgument
    );
    assert_eq!(
        refused("note".into(), "garbage").await,
        Code::InvalidArgument
    );

    // Searching back to back is paced.
    let mut paced = false;
    for _ in 0..10 {
        let request = ann.req(chat_proto::chat::v1::SearchMessagesRequest {
            query: "note".into(),
            ..Default::default()
        });
        if let Err(status) = ann.client.search_messages(request).await {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            paced = true;
            break;
        }
    }
    assert!(paced, "ten searches at once were all answered");
}
