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
