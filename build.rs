//! Puts the commit the binary is built from into `DYNSTRESS_COMMIT`, for
//! `--version`. Outside a git checkout (a source tarball, `cargo install`
//! from a registry) or without git it is "unknown": this script never fails
//! the build.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=DYNSTRESS_COMMIT={commit}");
    // A new commit or checkout changes HEAD or the branch it points at
    // (kept in the common dir when this is a linked worktree).
    let git = |arg: &str| {
        Command::new("git")
            .args(["rev-parse", arg])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if let (Some(dir), Some(common)) = (git("--git-dir"), git("--git-common-dir")) {
        let mut watch = vec![format!("{dir}/HEAD"), format!("{common}/packed-refs")];
        if let Ok(head) = std::fs::read_to_string(format!("{dir}/HEAD"))
            && let Some(reference) = head.strip_prefix("ref: ")
        {
            watch.push(format!("{common}/{}", reference.trim()));
        }
        // A path that does not exist would rerun this script every build.
        for path in watch.iter().filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
