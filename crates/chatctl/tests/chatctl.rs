//! `chatctl`, the binary, against a running chatd's admin socket.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::chat::v1::{LoginRequest, SubscribeRequest, WhoAmIRequest};
use chat_testkit::{TestServer, connect};
use tokio::io::AsyncWriteExt;
use tonic::{Code, Request, Status};

/// Runs `chatctl --socket SOCKET ARGS`, with `stdin` as its standard
/// input; returns whether it succeeded, and its output and errors.
async fn chatctl(socket: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .arg("--socket")
        .arg(socket)
        .arg("--password-stdin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

async fn login(server: &TestServer, name: &str, password: &str) -> Result<String, Status> {
    let mut client = ChatServiceClient::new(connect(server.addrs.native).await);
    let reply = client
        .login(LoginRequest {
            name: name.into(),
            password: password.into(),
        })
        .await?;
    Ok(reply.into_inner().session_token)
}

async fn who_am_i(server: &TestServer, token: &str) -> Result<String, Status> {
    let mut client = ChatServiceClient::new(connect(server.addrs.native).await);
    let mut request = Request::new(WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    Ok(client.who_am_i(request).await?.into_inner().name)
}

#[tokio::test]
async fn chatctl_manages_accounts_and_sessions_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let server = TestServer::start(&["--admin-socket", socket.to_str().unwrap()]).await;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let (ok, out) = chatctl(&socket, &["create-account", "ann"], "first password\n").await;
    assert!(ok, "{out}");
    assert!(out.contains("created account ann"), "{out}");
    let (ok, out) = chatctl(&socket, &["create-account", "Ann"], "other password\n").await;
    assert!(!ok && out.contains("registered"), "{out}");
    let (ok, out) = chatctl(&socket, &["create-account", "bob"], "short\n").await;
    assert!(!ok && out.contains("at least 8"), "{out}");

    let token = login(&server, "ann", "first password").await.unwrap();
    let (ok, out) = chatctl(&socket, &["accounts"], "").await;
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("ann ")).expect(&out);
    assert!(line.contains(" 1 ") && line.ends_with("offline"), "{out}");

    // Online: a guest with its event stream open, and the account not.
    let mut guest = ChatServiceClient::new(connect(server.addrs.native).await);
    let guest_token = guest
        .login(LoginRequest {
            name: "carl".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .session_token;
    let mut request = Request::new(SubscribeRequest::default());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {guest_token}").parse().unwrap(),
    );
    let _events = guest.subscribe(request).await.unwrap();
    let (ok, out) = chatctl(&socket, &["online"], "").await;
    assert!(ok, "{out}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["carl", "guest"]
    );

    // Sessions, and revoking one.
    let (ok, out) = chatctl(&socket, &["sessions", "ann"], "").await;
    assert!(ok, "{out}");
    let id = out
        .lines()
        .nth(1)
        .expect(&out)
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(id.len(), 12, "{out}");
    let (ok, out) = chatctl(&socket, &["revoke", "ann", id], "").await;
    assert!(ok && out.contains("1 sessions of ann ended"), "{out}");
    assert_eq!(
        who_am_i(&server, &token).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Locking keeps the account out; unlocking lets it in again.
    let token = login(&server, "ann", "first password").await.unwrap();
    let (ok, out) = chatctl(&socket, &["lock", "ann"], "").await;
    assert!(ok && out.contains("1 sessions ended"), "{out}");
    assert_eq!(
        who_am_i(&server, &token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let locked = login(&server, "ann", "first password").await.unwrap_err();
    assert_eq!(locked.code(), Code::PermissionDenied);
    let (ok, out) = chatctl(&socket, &["accounts"], "").await;
    assert!(ok && out.contains("locked"), "{out}");
    let (ok, out) = chatctl(&socket, &["unlock", "ann"], "").await;
    assert!(ok, "{out}");
    login(&server, "ann", "first password").await.unwrap();

    // A reset password replaces the old one.
    let (ok, out) = chatctl(&socket, &["reset-password", "ann"], "second password\n").await;
    assert!(ok, "{out}");
    assert_eq!(
        login(&server, "ann", "first password")
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    login(&server, "ann", "second password").await.unwrap();

    // Deleting frees the name.
    let (ok, out) = chatctl(&socket, &["delete-account", "ann"], "").await;
    assert!(ok, "{out}");
    login(&server, "ann", "").await.unwrap();
    let (ok, out) = chatctl(&socket, &["lock", "nobody"], "").await;
    assert!(!ok && out.contains("no account `nobody`"), "{out}");
}

#[tokio::test]
async fn chatctl_says_clearly_when_no_chatd_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = chatctl(&dir.path().join("admin.sock"), &["accounts"], "").await;
    assert!(!ok);
    let socket = dir.path().join("admin.sock");
    assert_eq!(
        out.trim(),
        format!(
            "chatctl: there is no admin socket at {}: is chatd running, with this data \
             directory? (--data-dir or --socket say where to look)",
            socket.display()
        ),
        "said once, without the OS's words twice"
    );

    // A socket left by a chatd that is gone.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let (ok, out) = chatctl(&socket, &["accounts"], "").await;
    assert!(!ok);
    assert!(
        out.contains("nothing answers on chatd's admin socket"),
        "{out}"
    );
}
