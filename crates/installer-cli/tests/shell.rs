//! What packaging ships beside the binary, from the binary itself: `--version` with the commit,
//! completion scripts that a real bash loads and completes with, and man pages per command.

mod support;

use std::process::{Command, Stdio};

use support::*;

#[test]
fn version_names_the_version_and_the_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = installer(tmp.path(), &["--version"]);
    assert_ok(&out);
    let expected = format!("installer {}", env!("CARGO_PKG_VERSION"));
    let git = Command::new("git")
        .current_dir(workspace())
        .args(["log", "-1", "--date=short", "--format=%h %cd"])
        .output()
        .unwrap();
    let expected = match git.status.success() {
        true => format!("{expected} ({})", String::from_utf8_lossy(&git.stdout).trim()),
        // A source tree without git (an sdist) has no commit to name.
        false => expected,
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected);
}

/// Sources `installer completions bash` in a real bash and completes `words` (the last one
/// being the word under the cursor); returns `complete -p installer` and the candidates.
fn bash_complete(words: &[&str]) -> (String, Vec<String>) {
    let script = r#"source <("$1" completions bash) || exit 1
complete -p installer || exit 1
shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_installer installer "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}""#;
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script, "_", env!("CARGO_BIN_EXE_installer")])
        .args(words)
        .output()
        .expect("bash runs");
    assert_ok(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines().map(str::to_owned);
    (lines.next().unwrap(), lines.collect())
}

#[test]
fn bash_loads_the_completions_and_completes_commands_flags_and_values() {
    let (registered, words) = bash_complete(&["installer", "ins"]);
    assert!(registered.starts_with("complete ") && registered.ends_with(" installer"), "{registered}");
    assert_eq!(words, ["install"]);
    let (_, words) = bash_complete(&["installer", "install", "--link-m"]);
    assert_eq!(words, ["--link-mode"]);
    let (_, words) = bash_complete(&["installer", "install", "--link-mode", "h"]);
    assert_eq!(words, ["hardlink"]);
    let (_, words) = bash_complete(&["installer", "completions", "fi"]);
    assert_eq!(words, ["fish"]);
}

#[test]
fn every_shell_gets_its_own_script() {
    let tmp = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("zsh", "#compdef installer"),
        ("fish", "complete -c installer"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[installer]"),
    ] {
        let out = installer(tmp.path(), &["completions", shell]);
        assert_ok(&out);
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker) && script.contains("link-mode"), "{shell}:\n{script}");
    }
    let out = installer(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn a_closed_pipe_is_not_a_failure() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_ok(&status);
}

#[test]
fn man_pages_cover_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man/man1");
    assert_ok(&installer(tmp.path(), &["generate-man", dir.to_str().unwrap()]));
    let mut pages: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    pages.sort();
    for page in ["installer.1", "installer-install.1", "installer-cache-prune.1", "installer-completions.1"] {
        assert!(pages.iter().any(|p| p == page), "{page} missing from {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("generate-man")), "the hidden command has no page: {pages:?}");
    let install = std::fs::read_to_string(dir.join("installer-install.1")).unwrap();
    assert!(install.starts_with(".ie") || install.starts_with(".TH"), "{install}");
    assert!(install.contains("link\\-mode"), "{install}");
}
