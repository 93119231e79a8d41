//! Shared helpers: where things are, and how to run the binary.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// `tests/data/`.
pub fn data() -> PathBuf {
    root().join("tests/data")
}

/// Runs `lychgate ARGS` in `dir` and returns its output.
pub fn lychgate_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lychgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run lychgate")
}

/// Runs `lychgate ARGS` in `dir` with `input` on standard input (passwords are never arguments).
pub fn lychgate_with_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lychgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lychgate");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for lychgate")
}

/// Runs `lychgate ARGS` from the workspace root.
pub fn lychgate(args: &[&str]) -> Output {
    lychgate_in(&root(), args)
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The default config with the fake illegal list added, written into a temporary folder next
/// to a copy of the fake list; returns the folder (kept alive by the caller) and the config path.
pub fn school_config() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text =
        std::fs::read_to_string(root().join("config/lychgate.toml")).expect("default config");
    let text = format!(
        "{text}\n[[list]]\ncategory = \"illegal\"\nname = \"fake IWF list\"\npath = \"fake-illegal.txt\"\n"
    );
    let path = dir.path().join("lychgate.toml");
    std::fs::write(&path, text).expect("write config");
    std::fs::copy(
        data().join("fake-illegal.txt"),
        dir.path().join("fake-illegal.txt"),
    )
    .expect("copy list");
    (dir, path)
}
