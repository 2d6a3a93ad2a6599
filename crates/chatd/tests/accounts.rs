//! Accounts and sessions over real loopback TCP: registering, logging in,
//! wrong passwords and their throttle, registered names reserved on every
//! protocol, sessions that survive a restart, expire and are revoked,
//! several sessions of one account, and the switches that turn guests and
//! the legacy protocols off.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chat_proto::chat::v1::chat_service_client::ChatServiceClient;

use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::*;
use chatd::{Chatd, Config};
use clap::Parser;
use common::native::*;
use common::*;
use tonic::Code;

use common::native::PASSWORD;

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map(|_| ()).unwrap_err().code()
}

/// Registers account `ann`, which then logs in once from 127.0.0.1: an
/// address it is known to log in from.
async fn owner_of_ann(addr: std::net::SocketAddr) {
    NativeUser::register(addr, "ann", PASSWORD).await;
    NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_account_is_registered_and_logged_in_to_by_any_spelling_of_its_name() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::register(addr, "Ann", PASSWORD).await;
    assert_eq!(ann.name, "Ann");
    assert_eq!(ann.who_am_i().await.unwrap(), ("Ann".into(), true));

    let mut again = NativeUser::try_login_with(addr, "aNN", PASSWORD)
        .await
        .unwrap();
    assert_eq!(again.name, "Ann");
    assert_ne!(again.token, ann.token);
    assert_eq!(again.who_am_i().await.unwrap(), ("Ann".into(), true));

    let mut guest = NativeUser::login(addr, "bob").await;
    assert_eq!(guest.who_am_i().await.unwrap(), ("bob".into(), false));
}

#[tokio::test]
async fn bad_registrations_and_logins_get_clear_statuses_that_never_say_which_part_was_wrong() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    NativeUser::register(addr, "ann", PASSWORD).await;

    let short = NativeUser::try_register(addr, "bob", "seven77")
        .await
        .err()
        .unwrap();
    assert_eq!(short.code(), Code::InvalidArgument);
    assert!(
        short.message().contains("at least 8"),
        "{}",
        short.message()
    );
    let long = "p".repeat(1025);
    assert_eq!(
        code(NativeUser::try_register(addr, "bob", &long).await),
        Code::InvalidArgument
    );
    NativeUser::register(addr, "bob", &"p".repeat(1024)).await;

    for taken in ["ann", "ANN", "аnn" /* Cyrillic а */] {
        let refused = NativeUser::try_register(addr, taken, PASSWORD)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code(), Code::AlreadyExists, "{taken}");
        assert!(refused.message().contains("registered"), "{refused:?}");
    }
    assert_eq!(
        code(NativeUser::try_register(addr, "user-4", PASSWORD).await),
        Code::InvalidArgument
    );
    // A name a guest holds cannot be registered from under it.
    let _carl = NativeUser::login(addr, "carl").await;
    assert_eq!(
        code(NativeUser::try_register(addr, "Carl", PASSWORD).await),
        Code::AlreadyExists
    );

    let wrong = NativeUser::try_login_with(addr, "ann", "not the password")
        .await
        .err()
        .unwrap();
    let unknown = NativeUser::try_login_with(addr, "nobody", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(wrong.message(), "wrong name or password");
}

#[tokio::test]
async fn a_registered_name_is_refused_to_guests_and_to_classic_senders() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let ann = NativeUser::register(addr, "ann", PASSWORD).await;
    drop(ann);
    for imitation in ["ann", "ANN", "аnn"] {
        let refused = NativeUser::try_login(addr, imitation).await.err().unwrap();
        assert_eq!(refused.code(), Code::AlreadyExists, "{imitation}");
        assert!(refused.message().contains("registered"), "{refused:?}");
    }
    let mut classic = server.classic_client().await;
    for imitation in ["ann", "Ann"] {
        let refused = send(&mut classic, imitation, "hi, it is me")
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::AlreadyExists, "{imitation}");
    }
    send(&mut classic, "annie", "a name of my own")
        .await
        .unwrap();
}

#[tokio::test]
async fn failed_logins_are_throttled_per_name_and_per_address_but_the_owner_gets_in() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    owner_of_ann(addr).await;

    let mut guesser = chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(
        connect_from(hostile::attacker_ip(1), addr).await,
    );
    let mut held = None;
    for guess in 0..20 {
        let attempt = guesser
            .login(LoginRequest {
                name: "ann".into(),
                password: format!("guess number {guess}"),
            })
            .await
            .unwrap_err();
        match attempt.code() {
            Code::Unauthenticated => {}
            Code::ResourceExhausted => {
                held = Some((guess, attempt));
                break;
            }
            other => panic!("unexpected {other:?}: {attempt:?}"),
        }
    }
    let (guesses, held) = held.expect("guessing was never throttled");
    assert!(guesses <= 7, "{guesses} guesses before the throttle");
    assert!(
        held.message().contains("this name") && held.message().contains("try again in"),
        "{held:?}"
    );
    // The right password from the guesser's address is held too ...
    let right = guesser
        .login(LoginRequest {
            name: "ann".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(right.code(), Code::ResourceExhausted);
    // ... but the owner, from an address it logged in from, gets in.
    NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();

    // Guessing many names from one address holds the address.
    let mut sprayer = chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(
        connect_from(hostile::attacker_ip(2), addr).await,
    );
    let mut address_held = None;
    for n in 0..20 {
        let attempt = sprayer
            .login(LoginRequest {
                name: format!("someone{n}"),
                password: "password1".into(),
            })
            .await
            .unwrap_err();
        if attempt.code() == Code::ResourceExhausted {
            address_held = Some(attempt);
            break;
        }
    }
    let address_held = address_held.expect("spraying was never throttled");
    assert!(
        address_held.message().contains("your address"),
        "{address_held:?}"
    );
}

#[tokio::test]
async fn an_account_session_and_its_rooms_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let (token, seq) = {
        let server = TestServer::start(&["--data-dir", dir]).await;
        let mut ann = NativeUser::register(server.addrs.native, "ann", PASSWORD).await;
        ann.create("rust").await;
        let sent = ann.send("rust", "before the restart").await;
        server.stop().await.unwrap();
        (ann.token, sent.seq)
    };
    let server = TestServer::start(&["--data-dir", dir]).await;
    let mut ann = NativeUser::with_token(server.addrs.native, "ann", &token).await;
    assert_eq!(ann.who_am_i().await.unwrap(), ("ann".into(), true));
    let mut events = ann.subscribe(&[("rust", seq - 1)]).await;
    let joined = next_matching(&mut events, |kind| match kind {
        Kind::RoomJoined(joined) => Some(joined),
        _ => None,
    })
    .await;
    assert_eq!(joined.room, "rust");
    assert_eq!(next_message(&mut events).await.text, "before the restart");
    // And others see the account as a member.
    let mut bob = NativeUser::login(server.addrs.native, "bob").await;
    let members = bob.members("rust").await;
    assert_eq!(
        members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["ann"]
    );
    assert!(members[0].online);
}

#[tokio::test]
async fn a_session_unused_past_its_lifetime_expires_and_one_in_use_does_not() {
    let server = TestServer::start(&["--session-ttl", "3s"]).await;
    let addr = server.addrs.native;
    let mut used = NativeUser::register(addr, "ann", PASSWORD).await;
    let mut unused = NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        used.who_am_i().await.unwrap();
    }
    let expired = unused.who_am_i().await.unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
    assert!(expired.message().contains("log in again"), "{expired:?}");
    used.who_am_i().await.unwrap();
}

#[tokio::test]
async fn logout_revokes_only_its_own_session() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut laptop = NativeUser::register(addr, "ann", PASSWORD).await;
    let mut phone = NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();
    let request = laptop.req(LogoutRequest {});
    laptop.client.logout(request).await.unwrap();
    assert_eq!(code(laptop.who_am_i().await), Code::Unauthenticated);
    assert_eq!(phone.who_am_i().await.unwrap(), ("ann".into(), true));
    // The name stays the account's.
    assert_eq!(
        code(NativeUser::try_login(addr, "ann").await),
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn two_sessions_of_one_account_share_its_events_and_its_presence() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut laptop = NativeUser::register(addr, "ann", PASSWORD).await;
    let mut phone = NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();
    let mut bob = NativeUser::account(addr, "bob").await;
    bob.create("rust").await;
    let mut bob_events = bob.subscribe(&[]).await;
    let mut laptop_events = laptop.subscribe(&[]).await;
    let mut phone_events = phone.subscribe(&[]).await;

    // A join made on the laptop reaches the phone.
    laptop.join("rust").await;
    for events in [&mut laptop_events, &mut phone_events] {
        let joined = next_matching(events, |kind| match kind {
            Kind::RoomJoined(joined) => Some(joined.room),
            _ => None,
        })
        .await;
        assert_eq!(joined, "rust");
    }
    let online = next_matching(&mut bob_events, |kind| match kind {
        Kind::MemberJoined(joined) => Some(joined),
        _ => None,
    })
    .await;
    assert_eq!((online.name.as_str(), online.online), ("ann", true));

    // Both get every message.
    bob.send("rust", "hello ann").await;
    assert_eq!(next_message(&mut laptop_events).await.text, "hello ann");
    assert_eq!(next_message(&mut phone_events).await.text, "hello ann");
    assert_eq!(next_message(&mut bob_events).await.text, "hello ann");

    // Closing one session's stream leaves the account online; bob hears
    // of presence only when the last one closes.
    drop(laptop_events);
    phone.send("rust", "still here on the phone").await;
    let next = next_matching(&mut bob_events, |kind| match kind {
        Kind::Message(message) => Some(Ok(message.text)),
        Kind::Presence(presence) => Some(Err(presence)),
        _ => None,
    })
    .await;
    assert_eq!(next, Ok("still here on the phone".into()));
    drop(phone_events);
    let presence = next_matching(&mut bob_events, |kind| match kind {
        Kind::Presence(presence) => Some(presence),
        _ => None,
    })
    .await;
    assert_eq!((presence.name.as_str(), presence.online), ("ann", false));
    // Offline, the account stays in its room.
    let members = bob.members("rust").await;
    assert!(members.iter().any(|m| m.name == "ann" && !m.online));
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut laptop = NativeUser::register(addr, "ann", PASSWORD).await;
    let mut phone = NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();
    let request = laptop.req(ChangePasswordRequest {
        old_password: "a wrong guess".into(),
        new_password: "a new password".into(),
    });
    let wrong = laptop.client.change_password(request).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let request = laptop.req(ChangePasswordRequest {
        old_password: PASSWORD.into(),
        new_password: "short".into(),
    });
    assert_eq!(
        code(laptop.client.change_password(request).await),
        Code::InvalidArgument
    );
    let request = laptop.req(ChangePasswordRequest {
        old_password: PASSWORD.into(),
        new_password: "a new password".into(),
    });
    laptop.client.change_password(request).await.unwrap();

    assert_eq!(laptop.who_am_i().await.unwrap(), ("ann".into(), true));
    assert_eq!(code(phone.who_am_i().await), Code::Unauthenticated);
    assert_eq!(
        code(NativeUser::try_login_with(addr, "ann", PASSWORD).await),
        Code::Unauthenticated
    );
    NativeUser::try_login_with(addr, "ann", "a new password")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deleted_account_leaves_its_rooms_and_frees_its_name() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::register(addr, "ann", PASSWORD).await;
    ann.create("rust").await;
    let mut guest = NativeUser::login(addr, "bob").await;
    let request = guest.req(DeleteAccountRequest {
        password: PASSWORD.into(),
    });
    assert_eq!(
        code(guest.client.delete_account(request).await),
        Code::FailedPrecondition
    );
    let request = ann.req(DeleteAccountRequest {
        password: PASSWORD.into(),
    });
    ann.client.delete_account(request).await.unwrap();

    assert_eq!(code(ann.who_am_i().await), Code::Unauthenticated);
    assert!(guest.members("rust").await.is_empty());
    assert_eq!(
        code(NativeUser::try_login_with(addr, "ann", PASSWORD).await),
        Code::Unauthenticated
    );
    NativeUser::login(addr, "ann").await;
}

/// A chatd bound to loopback with `flags`, served until the test ends.
async fn serve(flags: &[&str]) -> (chatd::ListenAddrs, tokio_util::sync::DropGuard) {
    let mut args = vec!["chatd", "--in-memory"];
    args.extend_from_slice(LOOPBACK);
    args.extend_from_slice(flags);
    let server = Chatd::bind(Config::parse_from(args)).await.unwrap();
    let addrs = server.addrs();
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    (addrs, shutdown.drop_guard())
}

#[tokio::test]
async fn require_accounts_turns_guests_away_on_every_protocol() {
    let (addrs, _serving) = serve(&["--require-accounts"]).await;
    let refused = NativeUser::try_login(addrs.native, "bob")
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("register"), "{refused:?}");
    // A login screen can know before asking.
    let mut rpc = ChatServiceClient::new(connect(addrs.native).await);
    let info = rpc.get_server_info(GetServerInfoRequest {}).await.unwrap();
    assert!(!info.into_inner().guests, "accounts only");
    NativeUser::register(addrs.native, "ann", PASSWORD).await;
    // The classic and lobby protocols have no accounts: not served ...
    assert_eq!(addrs.classic, None);
    assert_eq!(addrs.lobby, None);

    // ... unless the operator says their guests may come in.
    let (addrs, _serving) = serve(&["--require-accounts", "--legacy-guests"]).await;
    let mut classic = classic_client(addrs.classic.unwrap()).await;
    send(&mut classic, "bob", "a guest, as asked")
        .await
        .unwrap();
    assert!(addrs.lobby.is_some());
}

#[tokio::test]
async fn guesses_sent_at_once_are_throttled_as_if_sent_one_by_one() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    owner_of_ann(addr).await;
    // 60 wrong passwords at once, 10 from each of 6 addresses.
    let mut guesses = Vec::new();
    for source in 0..6 {
        let channel = connect_from(hostile::attacker_ip(10 + source), addr).await;
        for guess in 0..10 {
            let mut guesser = ChatServiceClient::new(channel.clone());
            guesses.push(tokio::spawn(async move {
                let attempt = guesser.login(LoginRequest {
                    name: "ann".into(),
                    password: format!("guess {source}-{guess}"),
                });
                attempt.await.unwrap_err()
            }));
        }
    }
    let mut checked = 0;
    for guess in guesses {
        let refused = guess.await.unwrap();
        match refused.code() {
            Code::Unauthenticated => checked += 1,
            Code::ResourceExhausted => {}
            other => panic!("unexpected {other:?}: {refused:?}"),
        }
    }
    // 5 free per name, and the one that earns the first wait.
    assert!(checked <= 6, "{checked} of 60 guesses were checked");
    // The owner, from where it registered, is not held.
    NativeUser::try_login_with(addr, "ann", PASSWORD)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_password_checks_leaves_room_for_the_owner() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    owner_of_ann(addr).await;
    let flooding = tokio_util::sync::CancellationToken::new();
    let busy = Arc::new(tokio::sync::Notify::new());
    let mut flood = Vec::new();
    // 60 addresses, 10 guessers each, every one trying again at once
    // when the server says it is busy.
    for source in 0..60 {
        let channel = connect_from(hostile::attacker_ip(20 + source), addr).await;
        for guesser in 0..10 {
            let mut client = ChatServiceClient::new(channel.clone());
            let (flooding, busy) = (flooding.clone(), Arc::clone(&busy));
            flood.push(tokio::spawn(async move {
                let mut n = 0;
                while !flooding.is_cancelled() {
                    n += 1;
                    let attempt = client.login(LoginRequest {
                        name: format!("nobody-{source}-{guesser}-{n}"),
                        password: "password1".into(),
                    });
                    let refused = attempt.await.unwrap_err();
                    if refused.message().contains("busy") {
                        busy.notify_one();
                    }
                }
            }));
        }
    }
    // The queue is full of strangers' checks ...
    tokio::time::timeout(PATIENCE, busy.notified())
        .await
        .expect("the flood never filled the queue");
    // ... and the owner, from an address it logged in from, gets in at
    // its first try.
    let owner = NativeUser::try_login_with(addr, "ann", PASSWORD).await;
    flooding.cancel();
    for guesser in flood {
        guesser.await.unwrap();
    }
    owner.unwrap();
}

#[tokio::test]
async fn the_classic_and_lobby_protocols_can_be_turned_off() {
    let server = Chatd::bind(Config::parse_from([
        "chatd",
        "--in-memory",
        "--native-addr",
        "127.0.0.1:0",
        "--classic-addr",
        "off",
        "--lobby-addr",
        "off",
    ]))
    .await
    .unwrap();
    let addrs = server.addrs();
    assert_eq!(addrs.classic, None);
    assert_eq!(addrs.lobby, None);
    let native = addrs.native;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(server.run(shutdown.clone()));
    let mut ann = NativeUser::account(native, "ann").await;
    ann.create("rust").await;
    shutdown.cancel();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn one_address_registers_a_few_accounts_at_once_and_then_is_held() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut registrar = chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(
        connect_from(hostile::attacker_ip(3), addr).await,
    );
    let mut held = None;
    for n in 0..20 {
        let attempt = registrar
            .register(RegisterRequest {
                name: format!("sock{n}"),
                password: PASSWORD.into(),
            })
            .await;
        match attempt {
            Ok(_) => {}
            Err(status) if status.code() == Code::ResourceExhausted => {
                held = Some((n, status));
                break;
            }
            Err(status) => panic!("unexpected {status:?}"),
        }
    }
    let (registered, held) = held.expect("registering was never held");
    assert!(registered <= 4, "{registered} accounts before the hold");
    assert!(
        held.message()
            .contains("accounts registered from your address")
            && held.message().contains("try again in"),
        "{held:?}"
    );
    // Other addresses are not held.
    NativeUser::register(addr, "ann", PASSWORD).await;
}

#[tokio::test]
async fn an_account_holds_at_most_twenty_sessions_and_the_oldest_ends_first() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut oldest = NativeUser::register(addr, "ann", PASSWORD).await;
    // Session times are kept to the second: make the first one older.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut newer = Vec::new();
    for _ in 0..chatd::accounts::MOST_SESSIONS_PER_ACCOUNT {
        newer.push(
            NativeUser::try_login_with(addr, "ann", PASSWORD)
                .await
                .unwrap(),
        );
    }
    assert_eq!(code(oldest.who_am_i().await), Code::Unauthenticated);
    for session in &mut newer {
        assert_eq!(session.who_am_i().await.unwrap(), ("ann".into(), true));
    }
}
