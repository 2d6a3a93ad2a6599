//! Moderation and private rooms against users who probe and come back: a
//! ban covers reading, a guest's mute outlives its session, and neither
//! creating nor reading tells a private or deleted room from none.

use chat_proto::chat::v1::room_action::Action;
use tonic::Code;

use crate::common::native::NativeUser;
use crate::common::*;

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map(drop).unwrap_err().code()
}

/// Account `ann`'s room `dev`, and `gus`, a guest, in it.
async fn owner_and_guest_in_dev(addr: std::net::SocketAddr) -> (NativeUser, NativeUser) {
    let mut ann = NativeUser::account(addr, "ann").await;
    let mut gus = NativeUser::login(addr, "gus").await;
    ann.create("dev").await;
    gus.join("dev").await;
    (ann, gus)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_user_reads_neither_history_nor_members() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let (mut ann, mut gus) = owner_and_guest_in_dev(addr).await;
    ann.moderate("dev", Action::Ban("gus".into()))
        .await
        .unwrap();
    ann.send("dev", "said after the ban").await;

    let history = gus.try_history("dev", None, 10).await.unwrap_err();
    assert_eq!(history.code(), Code::PermissionDenied);
    assert!(history.message().contains("banned"), "{history:?}");
    assert_eq!(code(gus.try_members("dev").await), Code::PermissionDenied);
    // Under another spelling of the name too.
    gus.logout().await;
    let mut again = NativeUser::login(addr, "GUS").await;
    assert_eq!(
        code(again.try_history("dev", None, 10).await),
        Code::PermissionDenied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_guest_stays_muted_when_it_logs_in_again_until_unmuted() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let (mut ann, mut gus) = owner_and_guest_in_dev(addr).await;
    ann.moderate("dev", Action::Mute("gus".into()))
        .await
        .unwrap();
    gus.logout().await;

    for name in ["gus", "Gus"] {
        let mut again = NativeUser::login(addr, name).await;
        again.join("dev").await;
        let refused = again.try_send("dev", "unmuted?", "").await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{name}");
        assert!(refused.message().contains("muted"), "{refused:?}");
        assert!(
            again
                .members("dev")
                .await
                .iter()
                .any(|m| m.name == name && m.muted)
        );
        again.logout().await;
    }
    // A moderator lifts it, with nobody holding the name.
    ann.moderate("dev", Action::Unmute("GUS".into()))
        .await
        .unwrap();
    let mut again = NativeUser::login(addr, "gus").await;
    again.join("dev").await;
    again.send("dev", "thanks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probing_for_private_room_names_is_held_to_the_pace_of_creating_rooms() {
    let server = TestServer::start(&["--rooms-created-per-hour", "5"]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    owner.try_create("secret", true).await.unwrap();
    owner.create("open").await;

    let mut prober = NativeUser::account(addr, "prober").await;
    let private = prober.try_create("secret", false).await.unwrap_err();
    let public = prober.try_create("open", false).await.unwrap_err();
    assert_eq!(private.code(), Code::AlreadyExists);
    assert_eq!(
        private.message().replace("secret", "open"),
        public.message()
    );
    assert!(!private.message().contains("private"), "{private:?}");

    // Each refusal counts as a creation: 5 an hour, refused or not.
    let mut held = None;
    for n in 0..10 {
        match prober.try_create(&format!("guess-{n}"), false).await {
            Ok(_) => {}
            Err(status) if status.code() == Code::ResourceExhausted => {
                held = Some(n);
                break;
            }
            Err(status) => panic!("unexpected {status:?}"),
        }
    }
    assert_eq!(held, Some(3), "two probes and three rooms make five");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_room_is_not_found_as_if_it_never_was() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut owner = NativeUser::account(addr, "owner").await;
    owner.try_create("secret", true).await.unwrap();
    owner.send("secret", "soon gone").await;
    owner
        .moderate("secret", Action::Delete(true))
        .await
        .unwrap();

    let mut outsider = NativeUser::account(addr, "outsider").await;
    let deleted = outsider.try_history("secret", None, 10).await.unwrap_err();
    let never = outsider
        .try_history("never-was", None, 10)
        .await
        .unwrap_err();
    assert_eq!(deleted.code(), Code::NotFound);
    assert_eq!(
        deleted.message().replace("secret", "never-was"),
        never.message()
    );
    assert_eq!(
        code(owner.try_history("secret", None, 10).await),
        Code::NotFound
    );
}
