//! What needs root: mounts made by a test (lazily unmounted when dropped) and real users.
//! Without root, each says why through [`super::skip`] and returns `None`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::skip;

/// Whether this process runs as root (mounts and users need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a command that must succeed.
pub fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A mount made by a test, lazily unmounted when dropped (also when the test panics).
pub struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS PATH`; `None` (after [`skip`]) without root.
    pub fn new(path: &Path, args: &[&str]) -> Option<Mount> {
        if !is_root() {
            skip("mounting needs root");
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount").args(args).arg(path).output().unwrap();
        if !out.status.success() {
            skip(&format!("mount {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
            return None;
        }
        Some(Mount(path.to_path_buf()))
    }

    /// `path` bind-mounted read-only onto itself.
    pub fn read_only(path: &Path) -> Option<Mount> {
        let mount = Mount::new(path, &["--bind", path.to_str().unwrap()])?;
        mount.remount("remount,bind,ro");
        Some(mount)
    }

    /// A tmpfs of `size` (e.g. `20m`) at `path`: a filesystem that fills up.
    pub fn tmpfs(path: &Path, size: &str) -> Option<Mount> {
        Mount::new(path, &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
    }

    /// A tmpfs at `path` as a drive is: its top `0755`, which only root may write (a tmpfs's
    /// own `1777` top would take no automatic shard).
    pub fn drive(path: &Path) -> Option<Mount> {
        Mount::new(path, &["-t", "tmpfs", "-o", "mode=755", "tmpfs"])
    }

    /// `mount -o OPTIONS` again on this mount (`remount,ro`...).
    pub fn remount(&self, options: &str) {
        run("mount", &["-o", options, self.0.to_str().unwrap()]);
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A directory every user may enter (a temporary directory is `0700`), for tests that run
/// commands as other users.
pub fn open_workdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The users of a test, an [`open_workdir`] and in it a copy of the fixture wheel `prefix`
/// every user may read; `None` (after [`skip`]) where users cannot be made.
pub fn users_with_wheel(prefix: &str) -> Option<(Users, tempfile::TempDir, PathBuf)> {
    let users = Users::new()?;
    let work = open_workdir();
    let fixture = super::fixture(prefix);
    let wheel = work.path().join(fixture.file_name().unwrap());
    std::fs::copy(&fixture, &wheel).unwrap();
    Some((users, work, wheel))
}

/// A group and two users in it, made for one test and deleted when dropped.
pub struct Users {
    pub group: String,
    pub a: String,
    pub b: String,
}

impl Users {
    /// `None` (after [`skip`]) without root or the tools.
    pub fn new() -> Option<Users> {
        if !is_root() {
            skip("making users needs root");
            return None;
        }
        if !Path::new("/usr/bin/setpriv").exists() || !Path::new("/usr/sbin/useradd").exists() {
            skip("setpriv or useradd is missing");
            return None;
        }
        let tag =
            format!("{}{}", std::process::id(), std::time::UNIX_EPOCH.elapsed().unwrap().subsec_micros());
        let users = Users { group: format!("ig{tag}"), a: format!("ia{tag}"), b: format!("ib{tag}") };
        run("groupadd", &[&users.group]);
        for user in [&users.a, &users.b] {
            run("useradd", &["-M", "-N", "-g", &users.group, "-s", "/usr/sbin/nologin", user]);
        }
        Some(users)
    }

    /// `program args` run as `user` with the group as its only group, in `cwd`.
    pub fn command<S: AsRef<std::ffi::OsStr>>(
        &self,
        user: &str,
        cwd: &Path,
        program: &Path,
        args: &[S],
    ) -> Command {
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args([&format!("--reuid={user}"), &format!("--regid={}", self.group), "--clear-groups", "--"])
            .arg(program)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", cwd)
            .env("XDG_CONFIG_HOME", cwd.join(".no-user-config"));
        cmd
    }

    pub fn installer<S: AsRef<std::ffi::OsStr>>(&self, user: &str, cwd: &Path, args: &[S]) -> Output {
        self.command(user, cwd, Path::new(env!("CARGO_BIN_EXE_installer")), args).output().unwrap()
    }

    /// A venv of the system's interpreter (one every user may run), owned by `user`.
    pub fn venv(&self, user: &str, path: &Path) -> PathBuf {
        let python = Path::new("/usr/bin/python3");
        assert!(python.is_file(), "this test needs /usr/bin/python3");
        let made = Command::new(python).args(["-m", "venv", "--without-pip"]).arg(path).status().unwrap();
        assert!(made.success());
        run("chown", &["-R", &format!("{user}:{}", self.group), path.to_str().unwrap()]);
        path.to_path_buf()
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        for user in [&self.a, &self.b] {
            let _ = Command::new("userdel").arg(user).status();
        }
        let _ = Command::new("groupdel").arg(&self.group).status();
    }
}
