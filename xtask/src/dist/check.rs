//! `cargo xtask dist --check`: the shipped files as a user gets them. The wheel is installed by
//! pip into a fresh venv; that venv's `installer` reports its version and commit and installs
//! the fixture wheels (which then import and run); the wheel's platform tag is compared with
//! the glibc symbol versions the binary really needs (`objdump -T`); the bash completions load
//! (`complete -p installer`) and complete; the man pages and the C library are there and sound.
//! One line per check; every command with its output goes to `target/dist-check/dist.log`.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use super::{Dist, GLIBC};
use crate::e2e::fixtures::{check_standard, Fixtures};
use crate::e2e::venv::{Install, Installer, Venv};
use crate::util::{project_root, Cmd, Log};

pub fn run(dist: &Dist) -> Result<()> {
    let root = project_root();
    let work = root.join("target/dist-check");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let work = work.canonicalize()?;
    let log = Log::create(&work.join("dist.log"))?;
    let started = Instant::now();
    let tool = Venv::create(&log, &work.join("tool-venv"))?;
    let installed = tool.bin("installer");
    let checks: [(&str, &dyn Fn() -> Result<String>); 7] = [
        ("pip-install-wheel", &|| pip_install(&log, &tool, dist)),
        ("version-and-commit", &|| version(&log, &installed, &dist.wheel)),
        ("install-fixtures", &|| install_fixtures(&log, &installed, &work)),
        ("tag-vs-glibc", &|| tag_vs_glibc(&log, &installed, &dist.wheel)),
        ("bash-completions", &|| bash_completions(&log, &installed, &dist.completions)),
        ("man-pages", &|| man_pages(&dist.man)),
        ("c-library", &|| c_library(&log, &dist.lib, &work, &dist.wheel)),
    ];
    for (name, check) in checks {
        eprint!("dist-check {name} ... ");
        let t = Instant::now();
        match check() {
            Ok(note) => eprintln!("ok ({note}; {:.1}s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("FAIL");
                log.note(&format!("FAIL: {e:?}"));
                return Err(e.context(format!("dist check `{name}` failed (log: {})", log.path().display())));
            }
        }
    }
    eprintln!("dist-check: all passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// pip (the interpreter's own, `--python` pointing at the venv) installs the wheel; the venv's
/// `bin/installer` must then be the very binary `target/dist/installer` holds.
fn pip_install(log: &Log, venv: &Venv, dist: &Dist) -> Result<String> {
    venv.pip_install(log, std::slice::from_ref(&dist.wheel))?;
    let installed = std::fs::read(venv.bin("installer")).context("pip put no bin/installer into the venv")?;
    ensure!(
        installed == std::fs::read(&dist.binary)?,
        "the wheel's binary differs from {}",
        dist.binary.display()
    );
    Ok(format!("{} MiB binary", mib(installed.len() as u64)))
}

/// `installer --version` names the wheel's version and, in a git checkout, the commit.
fn version(log: &Log, installer: &Path, wheel: &Path) -> Result<String> {
    let out = log.run(&Cmd::new(installer).arg("--version"))?;
    let line = out.stdout.trim();
    let expected = format!("installer {}", wheel_field(wheel, 1)?);
    ensure!(
        line.starts_with(&expected),
        "`installer --version` printed {line:?}, expected {expected:?} first"
    );
    match Cmd::new("git").args(["log", "-1", "--date=short", "--format=%h %cd"]).read() {
        Ok(commit) => {
            ensure!(line == format!("{expected} ({commit})"), "`{line}` does not name HEAD ({commit})")
        }
        Err(_) => log.note("no git here: the version alone is expected"),
    }
    Ok(line.to_owned())
}

/// The pip-installed `installer` installs the standard fixture set into a new venv, which
/// then imports and runs everything as the fixtures' table says.
fn install_fixtures(log: &Log, exe: &Path, work: &Path) -> Result<String> {
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let installer = Installer { exe: exe.to_owned(), home };
    let wheels = Fixtures::load(&project_root().join("fixtures/wheels"))?.standard()?;
    let venv = Venv::create(log, &work.join("fixtures-venv"))?;
    let cache = work.join("cache");
    installer.run(
        log,
        Install { venv: &venv.root, cache: &cache, link_mode: "auto", wheels: &wheels, extra: &[] },
    )?;
    check_standard(log, &venv, "1.0")?;
    Ok(format!("{} wheels", wheels.len()))
}

/// The newest `GLIBC_x.y` symbol version the binary needs must not be newer than any glibc its
/// wheel's platform tags promise to run on, and the tags must be the ones we aim for.
fn tag_vs_glibc(log: &Log, binary: &Path, wheel: &Path) -> Result<String> {
    let arch = std::env::consts::ARCH;
    let needed = glibc_needed(&log.run(&Cmd::new("objdump").arg("-T").arg(binary))?.stdout)
        .context("objdump -T shows no GLIBC symbol versions")?;
    let platform = wheel_field(wheel, 4)?;
    for tag in platform.split('.') {
        let promised =
            manylinux_glibc(tag, arch).with_context(|| format!("{tag} is not a manylinux tag for {arch}"))?;
        ensure!(needed <= promised, "{tag} promises glibc {promised:?}, the binary needs {needed:?}");
    }
    ensure!(
        platform.split('.').any(|tag| manylinux_glibc(tag, arch) == Some(GLIBC)),
        "{platform} is not tagged for glibc {}.{}",
        GLIBC.0,
        GLIBC.1
    );
    Ok(format!("{platform}; binary needs GLIBC_{}.{}", needed.0, needed.1))
}

/// The newest `GLIBC_x.y[.z]` in `objdump -T` output, as (x, y).
fn glibc_needed(objdump: &str) -> Option<(u32, u32)> {
    objdump
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .max()
}

/// The oldest glibc a manylinux platform tag promises (PEP 600 and its legacy aliases).
fn manylinux_glibc(tag: &str, arch: &str) -> Option<(u32, u32)> {
    let rest = tag.strip_suffix(arch)?.strip_suffix('_')?;
    match rest {
        "manylinux1" => Some((2, 5)),
        "manylinux2010" => Some((2, 12)),
        "manylinux2014" => Some((2, 17)),
        _ => {
            let (major, minor) = rest.strip_prefix("manylinux_")?.split_once('_')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        }
    }
}

/// Field `i` of a wheel file name (`name-version-python-abi-platform.whl`).
fn wheel_field(wheel: &Path, i: usize) -> Result<String> {
    let stem = wheel.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".whl"));
    let fields: Vec<&str> = stem.map(|s| s.split('-').collect()).unwrap_or_default();
    ensure!(fields.len() == 5, "{} is not name-version-python-abi-platform.whl", wheel.display());
    Ok(fields[i].to_owned())
}

/// The bash script from the installed binary equals the shipped file, loads into bash,
/// registers `installer`, and completes `installer ins` to `install`.
fn bash_completions(log: &Log, installer: &Path, dir: &Path) -> Result<String> {
    let shipped = std::fs::read_to_string(dir.join("installer.bash"))?;
    let printed = log.run(&Cmd::new(installer).args(["completions", "bash"]))?.stdout;
    ensure!(
        printed.trim_end() == shipped.trim_end(),
        "`installer completions bash` differs from the shipped file"
    );
    let script = r#"source "$1" || exit 1
complete -p installer || exit 1
COMP_WORDS=(installer ins); COMP_CWORD=1; COMP_LINE="installer ins"; COMP_POINT=${#COMP_LINE}
_installer installer ins installer
echo "words: ${COMPREPLY[*]}""#;
    let out = log.run(
        &Cmd::new("bash").args(["--norc", "--noprofile", "-c", script, "_"]).arg(dir.join("installer.bash")),
    )?;
    let registered = out.stdout.lines().next().unwrap_or_default().to_owned();
    ensure!(
        registered.starts_with("complete ") && registered.ends_with(" installer"),
        "complete -p: {registered:?}"
    );
    let words = out.stdout.lines().find_map(|l| l.strip_prefix("words: ")).unwrap_or_default();
    ensure!(words.split(' ').any(|w| w == "install"), "`installer ins<TAB>` offered {words:?}");
    Ok(registered)
}

/// A roff page per command, the top one and each subcommand's.
fn man_pages(dir: &Path) -> Result<String> {
    let mut pages = 0;
    for name in ["installer.1", "installer-install.1", "installer-cache-dir.1", "installer-completions.1"] {
        let text = std::fs::read_to_string(dir.join(name)).with_context(|| format!("no man page {name}"))?;
        ensure!(text.contains(".TH ") && text.contains(".SH NAME"), "{name} is not a man page");
    }
    for entry in std::fs::read_dir(dir)? {
        pages += usize::from(entry?.path().extension().is_some_and(|e| e == "1"));
    }
    Ok(format!("{pages} pages"))
}

/// The shared library needs no newer glibc than the wheel's, and a C program built against the
/// shipped header and library runs and reports the wheel's version.
fn c_library(log: &Log, lib: &Path, work: &Path, wheel: &Path) -> Result<String> {
    let so = lib.join("libinstaller_ffi.so");
    let needed = glibc_needed(&log.run(&Cmd::new("objdump").arg("-T").arg(&so))?.stdout).unwrap_or((0, 0));
    ensure!(needed <= GLIBC, "libinstaller_ffi.so needs glibc {needed:?}, newer than {GLIBC:?}");
    let source = work.join("version.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include \"installer.h\"\nint main(void) { puts(installer_version()); return 0; }\n",
    )?;
    let exe = work.join("version");
    log.run(
        &Cmd::new("cc")
            .arg("-I")
            .arg(lib.parent().context("lib has a parent")?.join("include"))
            .arg(&source)
            .arg("-o")
            .arg(&exe)
            .arg(lib.join("libinstaller_ffi.a"))
            .args(["-lpthread", "-ldl", "-lm"]),
    )?;
    let printed = log.run(&Cmd::new(&exe))?.stdout;
    let version = wheel_field(wheel, 1)?;
    if !printed.contains(&version) {
        bail!("installer_version() of the static library says {:?}, the wheel is {version}", printed.trim());
    }
    Ok(format!(".so needs GLIBC_{}.{}; static library links", needed.0, needed.1))
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_and_tags() {
        let objdump = "0000 DF *UND* 0000 (GLIBC_2.2.5) memcpy\n0000 DF *UND* 0000 GLIBC_2.14 memcpy\n\
                       0000 DF *UND* 0000 (GLIBC_2.3.4) __chk\n0000 DF *UND* 0000 GCC_3.0 _Unwind";
        assert_eq!(glibc_needed(objdump), Some((2, 14)));
        assert_eq!(glibc_needed("no versions"), None);
        assert_eq!(manylinux_glibc("manylinux_2_17_x86_64", "x86_64"), Some((2, 17)));
        assert_eq!(manylinux_glibc("manylinux2014_x86_64", "x86_64"), Some((2, 17)));
        assert_eq!(manylinux_glibc("manylinux2014_aarch64", "x86_64"), None);
        assert_eq!(manylinux_glibc("linux_x86_64", "x86_64"), None);
    }
}
