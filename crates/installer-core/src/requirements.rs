//! `-r FILE`: a list of wheel files, one path a line, `#` comments and blank lines ignored,
//! relative paths taken from the file's directory (as pip reads requirements files). A line
//! that is a requirement specifier (`requests==2.32`) rather than a path is refused, typed,
//! so the frontend can say how to get wheels: installer never resolves or downloads.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Why a line of a wheel list is not a wheel path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAPath {
    /// A requirement specifier: a name, maybe with a version, extras or markers.
    Specifier,
    /// A pip option (`-e`, `--index-url`, `-r`...): nothing installer acts on.
    Option,
}

impl std::fmt::Display for NotAPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotAPath::Specifier => "a requirement specifier, not a wheel file",
            NotAPath::Option => "a pip option, not a wheel file",
        })
    }
}

/// The wheel paths listed in `file`, in order.
pub fn read(file: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io("read", file, e))?;
    let base = file.parent().unwrap_or(Path::new(""));
    let mut wheels = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        // A comment starts a line or follows whitespace, as in pip's files.
        let line = match raw.find(" #").or_else(|| raw.find("\t#")) {
            Some(at) => &raw[..at],
            None => raw,
        }
        .trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let path = base.join(line);
        let kind = if line.starts_with('-') {
            Some(NotAPath::Option)
        } else if !looks_like_a_path(line) && !path.exists() {
            Some(NotAPath::Specifier)
        } else {
            None
        };
        if let Some(kind) = kind {
            return Err(Error::NotAWheelPath {
                file: file.to_path_buf(),
                line: number + 1,
                text: line.into(),
                kind,
            });
        }
        wheels.push(path);
    }
    Ok(wheels)
}

/// A line naming a file: a path separator (either kind on Windows) or a distribution file
/// suffix (an sdist too, so it is refused later as "not a wheel"). Anything else that
/// does not exist is taken for a specifier (`requests`, `numpy>=2`, `foo[bar]; python_version<"3.13"`).
fn looks_like_a_path(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    line.chars().any(std::path::is_separator)
        || [".whl", ".tar.gz", ".zip", ".tgz"].iter().any(|s| lower.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> (tempfile::TempDir, Result<Vec<PathBuf>>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("here.whl"), "").unwrap();
        let file = dir.path().join("wheels.txt");
        std::fs::write(&file, text).unwrap();
        let result = read(&file);
        (dir, result)
    }

    #[test]
    fn paths_are_relative_to_the_file_and_comments_go() {
        let (dir, wheels) = list("# wheels\n\nhere.whl  # local\nsub/b-1.0-py3-none-any.whl\n/abs/c.whl\n");
        assert_eq!(
            wheels.unwrap(),
            [
                dir.path().join("here.whl"),
                dir.path().join("sub/b-1.0-py3-none-any.whl"),
                PathBuf::from("/abs/c.whl")
            ]
        );
    }

    #[test]
    fn a_specifier_or_an_option_is_refused_with_its_line() {
        let (_dir, result) = list("here.whl\nrequests==2.32.3\n");
        let err = result.unwrap_err();
        assert!(
            matches!(&err, Error::NotAWheelPath { line: 2, text, kind: NotAPath::Specifier, .. } if text == "requests==2.32.3"),
            "{err}"
        );
        assert!(
            err.to_string()
                .ends_with("wheels.txt:2: `requests==2.32.3` is a requirement specifier, not a wheel file"),
            "{err}"
        );
        let (_dir, result) = list("--index-url https://example.org\n");
        assert!(matches!(result.unwrap_err(), Error::NotAWheelPath { kind: NotAPath::Option, .. }));
    }
}
