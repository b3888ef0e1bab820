//! Scripts: launchers for `console_scripts` / `gui_scripts` entry points, and the `#!python`
//! shebang rewrite of `.data/scripts`, byte for byte as pip (distlib) writes them, with
//! whether a rewritten script compiles to its original's code objects (then the bytecode the
//! cache holds for the original serves it too).

use std::path::Path;

use crate::wheel::metadata::EntryPoint;

/// The kernel's limit on a shebang line on Linux (distlib's `max_shebang_length`).
#[cfg(not(target_os = "macos"))]
const MAX_SHEBANG: usize = 127;
#[cfg(target_os = "macos")]
const MAX_SHEBANG: usize = 512;

/// The shebang for `python`, as distlib builds it: `#!<python>\n` when the kernel can run it
/// directly; otherwise (a space in the path, or longer than the kernel reads) a `/bin/sh`
/// trampoline that re-executes the file with the interpreter, quoted.
pub fn shebang(python: &Path) -> Vec<u8> {
    let executable = python.as_os_str().as_encoded_bytes();
    let simple = !executable.contains(&b' ') && executable.len() + 3 <= MAX_SHEBANG;
    if simple {
        return [b"#!", executable, b"\n"].concat();
    }
    let quoted: Vec<u8> =
        if executable.contains(&b' ') { [b"\"", executable, b"\""].concat() } else { executable.to_vec() };
    [b"#!/bin/sh\n'''exec' " as &[u8], &quoted, b" \"$0\" \"$@\"\n' '''"].concat()
}

/// The console scripts to generate for a wheel's entry points. As pip does, when a wheel has
/// a `pip` (or `easy_install`) script, the versioned ones are made for the environment's
/// Python (`pip3`, `pip3.11`; `easy_install-3.11`) in place of those the wheel was built with
/// (`pip`, `pipX`, `pipX.Y`; `easy_install-X.Y` only: pip keeps an `easy_install-3`).
pub fn scripts_to_generate(entry_points: &[EntryPoint], python_version: (u32, u32)) -> Vec<EntryPoint> {
    let (major, minor) = python_version;
    let has = |name: &str| entry_points.iter().any(|e| !e.gui && e.name == name);
    let (has_pip, has_easy_install) = (has("pip"), has("easy_install"));
    let mut out = Vec::with_capacity(entry_points.len() + 3);
    for ep in entry_points {
        let renamed = |name: String| EntryPoint { name, ..ep.clone() };
        match ep.name.as_str() {
            _ if ep.gui => out.push(ep.clone()),
            "pip" => out.extend([
                renamed("pip".into()),
                renamed(format!("pip{major}")),
                renamed(format!("pip{major}.{minor}")),
            ]),
            "easy_install" => {
                out.extend([renamed(ep.name.clone()), renamed(format!("easy_install-{major}.{minor}"))])
            }
            name if has_pip && name.strip_prefix("pip").is_some_and(is_version) => {}
            name if has_easy_install && name.strip_prefix("easy_install-").is_some_and(is_major_minor) => {}
            _ => out.push(ep.clone()),
        }
    }
    out
}

/// `3`, `3.11`: digits, at most one dot.
fn is_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `2.6`, `3.11`: digits, exactly one dot.
fn is_major_minor(text: &str) -> bool {
    text.contains('.') && is_version(text)
}

/// Whether a `.data/scripts` file named `file_name` is one of the wrappers setuptools wrote
/// for an entry point (`NAME`, `NAME.exe`, `NAME-script.py`, `NAME.pya`; suffixes in any
/// case): pip skips them because it generates the launcher itself (its
/// `is_entrypoint_wrapper`), and so does this installer.
pub fn is_entry_point_wrapper(file_name: &str, entry_points: &[EntryPoint]) -> bool {
    let lower = file_name.to_ascii_lowercase();
    let stem = [".exe", "-script.py", ".pya"]
        .iter()
        .find(|suffix| lower.ends_with(*suffix))
        .map_or(file_name, |suffix| &file_name[..file_name.len() - suffix.len()]);
    entry_points.iter().any(|e| e.name == stem)
}

/// The launcher script for an entry point, as pip writes it (distlib's `SCRIPT_TEMPLATE`).
/// `None` when the entry point names no object to call (pip refuses those too).
pub fn launcher(entry_point: &EntryPoint, python: &Path) -> Option<Vec<u8>> {
    let object = entry_point.object.as_deref()?;
    let import_name = object.split('.').next().unwrap_or(object);
    let body = format!(
        "# -*- coding: utf-8 -*-\n\
         import re\n\
         import sys\n\
         from {module} import {import_name}\n\
         if __name__ == '__main__':\n    \
         sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    \
         sys.exit({object}())\n",
        module = entry_point.module,
    );
    Some([shebang_line(python), body.into_bytes()].concat())
}

/// [`shebang`] ending with a newline, as distlib's `_write_script` adds one: the `/bin/sh`
/// trampoline ends after its closing quotes.
fn shebang_line(python: &Path) -> Vec<u8> {
    let mut line = shebang(python);
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    line
}

/// `content` with its `#!python...` first line replaced by the environment's interpreter, as
/// pip's `fix_script` does; `None` when the file has no such line. Where the kernel cannot run
/// the interpreter's path, the `/bin/sh` trampoline (which pip does not write) replaces that
/// line, and the script goes on on a line of its own after it.
pub fn rewrite_python_shebang(content: &[u8], python: &Path) -> Option<Vec<u8>> {
    if !content.starts_with(b"#!python") {
        return None;
    }
    let rest = match content.iter().position(|&b| b == b'\n') {
        Some(newline) => &content[newline + 1..],
        None => &[],
    };
    Some([shebang_line(python), rest.to_vec()].concat())
}

/// Whether a script whose first line was replaced (`rewritten`, from `original`) compiles to
/// the code objects of the original: the same number of lines, and neither first line declares
/// a source encoding (PEP 263), which decides how every other line reads: the original's
/// `#!python # -*- coding: latin-1 -*-` is dropped by the rewrite, and an interpreter path could
/// hold one. Other bytes of a comment line do not matter, not even invalid UTF-8: the compiler
/// never decodes a comment.
pub(crate) fn compiles_the_same(original: &[u8], rewritten: &[u8]) -> bool {
    let lines = |text: &[u8]| text.iter().filter(|&&b| b == b'\n').count();
    lines(original) == lines(rewritten) && !has_coding_cookie(original) && !has_coding_cookie(rewritten)
}

/// Whether the first line declares a source encoding (PEP 263), or might: a comment naming
/// `coding:` or `coding=` (compiling for the install costs little where this errs).
fn has_coding_cookie(content: &[u8]) -> bool {
    let first = content.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    first.trim_start().starts_with('#') && (first.contains("coding:") || first.contains("coding="))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_point(object: Option<&str>) -> EntryPoint {
        EntryPoint {
            name: "black".into(),
            module: "black".into(),
            object: object.map(Into::into),
            gui: false,
        }
    }

    #[test]
    fn launcher_matches_pip() {
        let script = launcher(&entry_point(Some("patched_main")), Path::new("/v/bin/python")).unwrap();
        let expected = "#!/v/bin/python\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom black import patched_main\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(patched_main())\n";
        assert_eq!(String::from_utf8(script).unwrap(), expected);
    }

    #[test]
    fn launcher_imports_the_first_attribute_and_calls_the_whole_path() {
        let script = launcher(&entry_point(Some("cli.main")), Path::new("/v/bin/python")).unwrap();
        let text = String::from_utf8(script).unwrap();
        assert!(text.contains("from black import cli\n"));
        assert!(text.contains("sys.exit(cli.main())"));
    }

    /// distlib puts a newline after a shebang that has none: the trampoline's last line
    /// ends with its quotes, and the launcher's first comment goes on the next line.
    #[test]
    fn a_launcher_behind_the_trampoline_starts_its_body_on_a_line_of_its_own() {
        let script = launcher(&entry_point(Some("main")), Path::new("/my envs/v/bin/python")).unwrap();
        let text = String::from_utf8(script).unwrap();
        assert!(text.contains("\"$@\"\n' '''\n# -*- coding: utf-8 -*-\nimport re\n"), "{text}");
    }

    #[test]
    fn entry_point_without_object_has_no_launcher() {
        assert_eq!(launcher(&entry_point(None), Path::new("/v/bin/python")), None);
    }

    #[test]
    fn pip_gets_versioned_scripts_for_this_python_like_pip_makes_them() {
        let ep = |name: &str| EntryPoint {
            name: name.into(),
            module: "pip._internal.cli.main".into(),
            object: Some("main".into()),
            gui: false,
        };
        let names: Vec<String> =
            scripts_to_generate(&[ep("pip"), ep("pip3"), ep("pip3.9"), ep("other")], (3, 11))
                .into_iter()
                .map(|e| e.name)
                .collect();
        assert_eq!(names, ["pip", "pip3", "pip3.11", "other"]);
        let names: Vec<String> =
            scripts_to_generate(&[ep("pip3")], (3, 11)).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["pip3"], "without a `pip` entry point nothing is renamed");
    }

    #[test]
    fn only_easy_install_x_y_entry_points_give_way_to_this_pythons() {
        let ep = |name: &str, gui| EntryPoint {
            name: name.into(),
            module: "setuptools.command.easy_install".into(),
            object: Some("main".into()),
            gui,
        };
        let wheel = [
            ep("easy_install", false),
            ep("easy_install-2.6", false),
            ep("easy_install-3", false),
            ep("easy_install-2.7", true),
        ];
        let names: Vec<String> = scripts_to_generate(&wheel, (3, 11)).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["easy_install", "easy_install-3.11", "easy_install-3", "easy_install-2.7"]);
        let names: Vec<String> =
            scripts_to_generate(&wheel[1..2], (3, 11)).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["easy_install-2.6"], "without an `easy_install` entry point nothing is dropped");
    }

    #[test]
    fn setuptools_wrappers_of_entry_points_are_recognised_as_pip_does() {
        let eps =
            [entry_point(Some("main")), EntryPoint { name: "tk".into(), gui: true, ..entry_point(None) }];
        for wrapper in
            ["black", "black.exe", "black.EXE", "black-script.py", "black-SCRIPT.PY", "black.pya", "tk.exe"]
        {
            assert!(is_entry_point_wrapper(wrapper, &eps), "{wrapper}");
        }
        for other in ["Black", "black-script.pyw", "black.sh", "blackd", "black-script", "tk-script.pyw"] {
            assert!(!is_entry_point_wrapper(other, &eps), "{other}");
        }
    }

    #[test]
    fn paths_with_spaces_use_the_sh_trampoline() {
        let sb = shebang(Path::new("/my envs/v/bin/python"));
        assert_eq!(sb, b"#!/bin/sh\n'''exec' \"/my envs/v/bin/python\" \"$0\" \"$@\"\n' '''".to_vec());
    }

    #[test]
    fn long_paths_use_the_sh_trampoline() {
        let long = format!("/{}/bin/python", "d".repeat(130));
        let sb = String::from_utf8(shebang(Path::new(&long))).unwrap();
        assert!(sb.starts_with("#!/bin/sh\n'''exec' /ddd"), "{sb}");
    }

    #[test]
    fn python_shebang_is_rewritten_and_the_rest_kept() {
        let out = rewrite_python_shebang(b"#!pythonw -E\nprint(1)\n", Path::new("/v/bin/python")).unwrap();
        assert_eq!(out, b"#!/v/bin/python\nprint(1)\n");
        assert_eq!(rewrite_python_shebang(b"#!/bin/sh\necho\n", Path::new("/v/bin/python")), None);
    }

    #[test]
    fn a_rewritten_script_goes_on_after_the_trampoline_on_a_line_of_its_own() {
        let out =
            rewrite_python_shebang(b"#!python\nprint(1)\n", Path::new("/my envs/v/bin/python")).unwrap();
        let expected = b"#!/bin/sh\n'''exec' \"/my envs/v/bin/python\" \"$0\" \"$@\"\n' '''\nprint(1)\n";
        assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(expected.to_vec()).unwrap());
    }

    #[test]
    fn a_rewritten_script_compiles_the_same_only_if_its_first_lines_are_plain_comments() {
        let rewritten = b"#!/v/bin/python\nx = 1\n";
        assert!(compiles_the_same(b"#!python\nx = 1\n", rewritten));
        assert!(!compiles_the_same(b"#!python\nx = 1\ny = 2\n", rewritten));
        // The dropped line declared how the rest reads, or the new one does.
        assert!(!compiles_the_same(b"#!python # -*- coding: latin-1 -*-\nx = 1\n", rewritten));
        assert!(!compiles_the_same(b"#!python\nx = 1\n", b"#!/coding=latin-1/python\nx = 1\n"));
        // A comment is never decoded.
        assert!(compiles_the_same(b"#!python \xff\nx = 1\n", rewritten));
        assert!(compiles_the_same(b"#!python\nx = 1\n", b"#!/caf\xe9/python\nx = 1\n"));
    }
}
