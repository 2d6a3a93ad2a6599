//! What `chatd` leaves on disk is its owner's alone, whatever the umask:
//! the data directory, the database and its journal files, and the key
//! `chatd gen-cert` writes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::native::NativeUser;
use crate::common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A chatd on `data`, with a umask that hides nothing.
async fn chatd_on(data: &Path) -> ChatdProcess {
    ChatdProcess::spawn_with(
        &["--data-dir", data.to_str().unwrap()],
        &[],
        ChildSetup {
            umask: Some(0),
            ..ChildSetup::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_its_files_are_the_owners_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = ["chat.db", "chat.db-wal", "chat.db-shm", "admin.sock"];
    let mut chatd = chatd_on(&data).await;
    let mut ann = NativeUser::account(chatd.native, "ann").await;
    ann.join("general").await;
    ann.send("general", "a secret").await;
    assert_eq!(mode(&data), 0o700);
    for file in files {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // Gone before the next one takes its admin socket.
    chatd.child.kill().await.unwrap();
    // Loosened while it was down: tightened at start, and said so.
    set_mode(&data, 0o755);
    set_mode(&data.join("chat.db"), 0o644);
    let mut chatd = chatd_on(&data).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("chat.db")), 0o600);
    let logged = chatd.log_so_far().join("\n");
    assert!(logged.contains("its mode was 755, now 700"), "{logged}");
    assert!(logged.contains("its mode was 644, now 600"), "{logged}");
}

#[tokio::test]
async fn gen_cert_leaves_the_key_0600_also_over_an_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "an old key").unwrap();
    set_mode(&key, 0o644);
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(["gen-cert", "--host", "localhost", "--out-dir"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(generated.success());
    assert_eq!(mode(&key), 0o600);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_chatd_on_one_data_directory_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    // Without the admin socket, which used to stop the second by chance.
    let flags = ["--data-dir", data, "--admin-socket", "off"];
    let first = ChatdProcess::spawn(&flags, &[]).await;
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(LOOPBACK)
        .args(flags)
        .kill_on_drop(true)
        .output();
    let second = tokio::time::timeout(PATIENCE, second)
        .await
        .expect("the second chatd started and ran")
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    let said = format!(
        "the data directory {data} is in use by another chatd (process {})",
        first.pid()
    );
    assert!(stderr.contains(&said), "{stderr}");
    // The first goes on as if nothing happened.
    let mut ann = NativeUser::login(first.native, "ann").await;
    ann.join("general").await;
    ann.send("general", "still the only one").await;
}
