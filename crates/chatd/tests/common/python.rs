//! Running Python grpcio clients, generated from our .proto files at test
//! time, as an independent implementation of the protocols.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

/// The Python with grpcio that `scripts/test` set up.
pub fn python() -> PathBuf {
    let python = std::env::var_os("CHAT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with grpcio at {}: run the tests with scripts/test, which sets it up, \
         or point CHAT_TEST_PYTHON at a Python that has grpcio and grpcio-tools",
        python.display()
    );
    python
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Generates Python stubs for `proto` (relative to the workspace's `proto/`)
/// into a fresh temporary folder.
pub fn generate(proto: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let proto_path = workspace().join("proto").join(proto);
    let include = proto_path.parent().unwrap();
    let status = std::process::Command::new(python())
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", include.display()))
        .arg(format!("--python_out={}", out.path().display()))
        .arg(format!("--grpc_python_out={}", out.path().display()))
        .arg(&proto_path)
        .status()
        .expect("run grpc_tools.protoc");
    assert!(status.success(), "grpc_tools.protoc failed on {proto}");
    out
}

/// Starts `tests/interop/SCRIPT` with the stubs in `stubs` importable.
pub fn spawn(script: &str, stubs: &Path, args: &[String]) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    Command::new(python())
        .arg(script)
        .args(args)
        .env("PYTHONPATH", stubs)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python")
}
