//! Scripts: launchers for `console_scripts` / `gui_scripts` entry points, and the `#!python`
//! shebang rewrite of `.data/scripts`, byte for byte as pip (distlib) writes them.

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
/// Python (`pip3`, `pip3.11`; `easy_install-3.11`) in place of those the wheel was built with.
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
            name if has_easy_install && name.strip_prefix("easy_install-").is_some_and(is_version) => {}
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
    Some([shebang(python), body.into_bytes()].concat())
}

/// `content` with its `#!python...` first line replaced by the environment's interpreter, as
/// pip's `fix_script` does; `None` when the file has no such line.
pub fn rewrite_python_shebang(content: &[u8], python: &Path) -> Option<Vec<u8>> {
    if !content.starts_with(b"#!python") {
        return None;
    }
    let rest = match content.iter().position(|&b| b == b'\n') {
        Some(newline) => &content[newline + 1..],
        None => &[],
    };
    Some([shebang(python), rest.to_vec()].concat())
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
}
