//! Parsers for the small text files of a `.dist-info`: `WHEEL`, `METADATA` (name and version
//! only) and `entry_points.txt`.

use serde::{Deserialize, Serialize};

/// A `console_scripts` or `gui_scripts` entry point: `name = module:object.attr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPoint {
    /// The script's file name in `bin/`; checked to name no other directory.
    pub name: String,
    /// The module the launcher imports, before the colon.
    pub module: String,
    /// `object.attr` after the colon, if any.
    pub object: Option<String>,
    /// From `gui_scripts` rather than `console_scripts`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gui: bool,
}

/// The `Wheel-Version` this installer implements. A greater major is refused (the spec: a new
/// major may change the layout in ways an installer would get wrong), a greater minor installs
/// with a warning, and anything lower installs (pip and uv take the `0.1` of early `wheel`
/// releases too).
pub const WHEEL_VERSION: [u32; 2] = [1, 0];

/// What an installer needs from `WHEEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelInfo {
    /// `Wheel-Version`, component by component (`[1, 0]`, `[0, 1]`; pip reads any number).
    pub wheel_version: Vec<u32>,
    /// `Root-Is-Purelib`: whether the archive root goes to purelib (else platlib).
    pub root_is_purelib: bool,
}

impl WheelInfo {
    /// The Wheel-Version as written (`1.2`) when it is newer than [`WHEEL_VERSION`]: such a
    /// wheel installs with a warning, as pip's `check_compatibility` does.
    pub fn newer_wheel_version(&self) -> Option<String> {
        (self.wheel_version.as_slice() > WHEEL_VERSION.as_slice()).then(|| dotted(&self.wheel_version))
    }
}

fn dotted(version: &[u32]) -> String {
    version.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// Parses `WHEEL`. A Wheel-Version with a greater major than [`WHEEL_VERSION`] is refused.
/// `Root-Is-Purelib` is read as pip reads it (`.lower() == "true"`): missing or any other
/// value means platlib, as for pip and uv, which install such wheels without a word.
pub fn parse_wheel_file(text: &str) -> Result<WheelInfo, String> {
    let mut version = None;
    let mut purelib = None;
    for (key, value) in headers(text) {
        if key.eq_ignore_ascii_case("Wheel-Version") && version.is_none() {
            version = Some(parse_wheel_version(&value)?);
        } else if key.eq_ignore_ascii_case("Root-Is-Purelib") && purelib.is_none() {
            purelib = Some(value.eq_ignore_ascii_case("true"));
        }
    }
    let wheel_version = version.ok_or("missing Wheel-Version")?;
    Ok(WheelInfo { wheel_version, root_is_purelib: purelib.unwrap_or(false) })
}

/// Integers separated by dots, as pip reads them (`tuple(map(int, version.split(".")))`).
fn parse_wheel_version(value: &str) -> Result<Vec<u32>, String> {
    let version: Vec<u32> = value
        .split('.')
        .map(|part| part.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("invalid Wheel-Version {value:?}"))?;
    if version[0] > WHEEL_VERSION[0] {
        return Err(format!(
            "unsupported Wheel-Version {} (this installer reads up to {}.x)",
            dotted(&version),
            WHEEL_VERSION[0]
        ));
    }
    Ok(version)
}

/// `Name` and `Version` from the header of `METADATA` (the body, after the first blank line,
/// is the description and is not read).
pub fn parse_metadata_name_version(text: &str) -> Result<(String, String), String> {
    let mut name = None;
    let mut version = None;
    for (key, value) in headers(text) {
        if key.eq_ignore_ascii_case("Name") && name.is_none() {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("Version") && version.is_none() {
            version = Some(value);
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or("missing Name")?;
    let version = version.filter(|v| !v.is_empty()).ok_or("missing Version")?;
    Ok((name, version))
}

/// `Requires-Python` from the header of `METADATA`, if the wheel declares one: the Python
/// versions it may be installed for (checked against the target's by `target::requires_python`).
pub fn parse_requires_python(text: &str) -> Option<String> {
    headers(text).find(|(key, _)| key.eq_ignore_ascii_case("Requires-Python")).map(|(_, value)| value)
}

/// The `Key: value` pairs of an RFC 822 style header, read as Python's `email` parser (pip's)
/// reads them. Lines that start with whitespace continue the previous value, even when that is
/// all they hold: a multi-line `License` writes its blank lines as indented empty ones, and
/// fields after it still count. The header ends at the first empty line, or at the first line
/// that is neither a field (a name of printable ASCII but `:` and space, then `:`) nor a
/// continuation: the parser takes the body to start there, so fields below it are not seen.
/// A `From ` line (an mbox envelope) is passed over, as the parser passes over one.
fn headers(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let is_field =
        |l: &str| l.split_once(':').is_some_and(|(name, _)| name.bytes().all(|b| b.is_ascii_graphic()));
    let envelope = |l: &str| l.starts_with("From ");
    let mut lines = text
        .lines()
        .take_while(move |l| !l.is_empty() && (is_field(l) || envelope(l) || l.starts_with([' ', '\t'])))
        .peekable();
    std::iter::from_fn(move || loop {
        let line = lines.next()?;
        if envelope(line) {
            continue;
        }
        // A continuation with nothing before it to continue.
        let Some((key, value)) = line.split_once(':').filter(|_| !line.starts_with([' ', '\t'])) else {
            continue;
        };
        let mut value = value.trim().to_string();
        while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            value.push(' ');
            value.push_str(next.trim());
        }
        return Some((key.trim().to_string(), value));
    })
}

impl EntryPoint {
    /// The entry point as messages name it: ``entry point `name` (console_scripts)``.
    pub fn describe(&self) -> String {
        let section = if self.gui { "gui_scripts" } else { "console_scripts" };
        format!("entry point `{}` ({section})", self.name)
    }
}

/// The `console_scripts` and `gui_scripts` sections of `entry_points.txt`; other sections
/// (plugins for other tools) are not read, so their syntax cannot make a wheel uninstallable.
pub fn parse_entry_points(text: &str) -> Result<Vec<EntryPoint>, String> {
    let mut out = Vec::new();
    let mut gui = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let Some(section) = section.strip_suffix(']') else {
                return Err(format!("line {}: unterminated section header {line:?}", number + 1));
            };
            gui = match section.trim() {
                "console_scripts" => Some(false),
                "gui_scripts" => Some(true),
                _ => None,
            };
            continue;
        }
        let Some(gui) = gui else { continue };
        let entry = parse_entry_point(line, gui).map_err(|e| format!("line {}: {e}", number + 1))?;
        out.push(entry);
    }
    Ok(one_per_name(out))
}

/// One launcher per name, the one pip writes: it reads each section into a dict (the last line
/// of a name wins) and writes the gui scripts after the console ones, so a name in both
/// sections is a gui script. Two entries of one name would write one file twice, and RECORD
/// would list it twice with two hashes.
fn one_per_name(entries: Vec<EntryPoint>) -> Vec<EntryPoint> {
    let mut chosen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let previous = chosen.get(entry.name.as_str()).map(|&j| &entries[j]);
        if !previous.is_some_and(|p| p.gui && !entry.gui) {
            chosen.insert(&entry.name, i);
        }
    }
    let keep: std::collections::HashSet<usize> = chosen.into_values().collect();
    entries.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, e)| e).collect()
}

fn parse_entry_point(line: &str, gui: bool) -> Result<EntryPoint, String> {
    let (name, value) =
        line.split_once('=').ok_or_else(|| format!("expected `name = module:object`, found {line:?}"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("empty script name in {line:?}"));
    }
    // The name becomes a file in bin/: it must not name another directory.
    if name.contains(['/', '\\', '\0']) || name.starts_with('.') || name.chars().any(char::is_control) {
        return Err(format!("unsafe script name {name:?}"));
    }
    // ... and fit in one: a longer name would only fail at writing the launcher (pip and uv
    // fail there), after the wheel was cached and the rest of it placed.
    if name.len() > MAX_SCRIPT_NAME {
        return Err(format!(
            "script name {} ({} bytes) is longer than a file name can be ({MAX_SCRIPT_NAME} bytes)",
            shortened(name),
            name.len()
        ));
    }
    let mut value = value.trim();
    // Extras (`module:obj [extra1, extra2]`) only matter to the resolver.
    if let Some(start) = value.find('[') {
        if !value.ends_with(']') {
            return Err(format!("unterminated extras in {value:?}"));
        }
        value = value[..start].trim_end();
    }
    let (module, object) = match value.split_once(':') {
        Some((m, o)) => (m.trim(), Some(o.trim())),
        None => (value, None),
    };
    if !is_dotted_identifier(module) {
        return Err(format!("invalid module {module:?} for script {name:?}"));
    }
    if let Some(object) = object {
        if !is_dotted_identifier(object) {
            return Err(format!("invalid object {object:?} for script {name:?}"));
        }
    }
    Ok(EntryPoint {
        name: name.to_string(),
        module: module.to_string(),
        object: object.map(str::to_string),
        gui,
    })
}

/// The longest file name Linux filesystems take (`NAME_MAX`), in bytes: a launcher's name.
const MAX_SCRIPT_NAME: usize = 255;

/// A name too long for a file, as messages quote it: its first 32 characters, then `…`.
fn shortened(name: &str) -> String {
    match name.char_indices().nth(32) {
        Some((end, _)) => format!("{:?}…", &name[..end]),
        None => format!("{name:?}"),
    }
}

/// `a.b_c.d`: Python identifiers joined by dots. These strings are pasted into generated
/// launcher code, so anything else is refused rather than quoted.
fn is_dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_file() {
        let info = parse_wheel_file(
            "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.41)\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        .unwrap();
        assert_eq!(info, WheelInfo { wheel_version: vec![1, 0], root_is_purelib: true });
        assert_eq!(info.newer_wheel_version(), None);
        let info = parse_wheel_file("wheel-version: 1.9\r\nRoot-Is-Purelib: False\r\n").unwrap();
        assert_eq!(info, WheelInfo { wheel_version: vec![1, 9], root_is_purelib: false });
        assert_eq!(info.newer_wheel_version().as_deref(), Some("1.9"));
    }

    #[test]
    fn wheel_versions_as_pip_reads_them() {
        let version = |v: &str| {
            parse_wheel_file(&format!("Wheel-Version: {v}\nRoot-Is-Purelib: true\n"))
                .map(|i| i.newer_wheel_version())
        };
        // Older and shorter versions install silently: early `wheel` releases wrote 0.1.
        assert_eq!(version("0.1"), Ok(None));
        assert_eq!(version("1"), Ok(None));
        assert_eq!(version("1.0"), Ok(None));
        // Newer within major 1: installed with a warning.
        assert_eq!(version("1.0.1"), Ok(Some("1.0.1".into())));
        assert_eq!(version("1.10"), Ok(Some("1.10".into())));
        assert_eq!(version("2"), Err("unsupported Wheel-Version 2 (this installer reads up to 1.x)".into()));
        assert_eq!(version("1."), Err("invalid Wheel-Version \"1.\"".into()));
    }

    #[test]
    fn root_is_purelib_as_pip_reads_it() {
        let purelib =
            |line: &str| parse_wheel_file(&format!("Wheel-Version: 1.0\n{line}")).unwrap().root_is_purelib;
        assert!(purelib("Root-Is-Purelib: true\n"));
        assert!(purelib("Root-Is-Purelib: TRUE\n"));
        assert!(purelib("Root-Is-Purelib: true\nRoot-Is-Purelib: false\n"));
        // Missing, or anything but `true`: platlib, as pip and uv install such a wheel.
        for line in ["", "Root-Is-Purelib: false\n", "Root-Is-Purelib: yes\n", "Root-Is-Purelib:\n"] {
            assert!(!purelib(line), "{line:?}");
        }
    }

    #[test]
    fn wheel_file_errors() {
        let err = |t| parse_wheel_file(t).unwrap_err();
        assert_eq!(
            err("Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"),
            "unsupported Wheel-Version 2.0 (this installer reads up to 1.x)"
        );
        assert_eq!(err("Root-Is-Purelib: true\n"), "missing Wheel-Version");
        assert_eq!(err("Wheel-Version: one\nRoot-Is-Purelib: true\n"), "invalid Wheel-Version \"one\"");
        // Only the header counts: a body after the blank line is ignored.
        assert_eq!(err("Root-Is-Purelib: true\n\nWheel-Version: 1.0\n"), "missing Wheel-Version");
    }

    #[test]
    fn metadata_name_version() {
        let text = "Metadata-Version: 2.1\nName: Foo-Bar\nVersion: 1.0.post1\nSummary: a\n  continued\n\nName: not-this\n";
        assert_eq!(parse_metadata_name_version(text).unwrap(), ("Foo-Bar".into(), "1.0.post1".into()));
        assert_eq!(parse_metadata_name_version("Version: 1\n").unwrap_err(), "missing Name");
        assert_eq!(parse_metadata_name_version("Name: a\n\nVersion: 1\n").unwrap_err(), "missing Version");
    }

    #[test]
    fn metadata_requires_python() {
        let text = "Metadata-Version: 2.1\nName: a\nVersion: 1\nrequires-python: >=3.10,\n  <4\n";
        assert_eq!(parse_requires_python(text).as_deref(), Some(">=3.10, <4"));
        assert_eq!(parse_requires_python("Name: a\n\nRequires-Python: >=3.10\n"), None);
        // A blank line of a multi-line field, indented (hatchling writes license texts so),
        // continues it; only an empty line ends the header.
        let text = "Name: a\nVersion: 1\nLicense: Copyright\n        \n        All rights reserved.\n\t\nRequires-Python: >=3.10\n";
        assert_eq!(parse_requires_python(text).as_deref(), Some(">=3.10"));
        assert_eq!(parse_requires_python("Name: a\n\r\nRequires-Python: >=3.10\n"), None);
        // A line that is neither a field nor a continuation starts the body, as Python's email
        // parser reads it (pip's): what follows is not a field (`Bad Name` has a space). A
        // `From ` line is passed over.
        for junk in ["no colon here", "Bad Name: x", ":", "From here", "From x: y"] {
            let text = format!("Name: a\n{junk}\nRequires-Python: >=3.10\n");
            let expected = if junk.starts_with([':', 'F']) { Some(">=3.10") } else { None };
            assert_eq!(parse_requires_python(&text).as_deref(), expected, "{junk:?}");
        }
    }

    fn ep(name: &str, module: &str, object: Option<&str>, gui: bool) -> EntryPoint {
        EntryPoint { name: name.into(), module: module.into(), object: object.map(Into::into), gui }
    }

    #[test]
    fn entry_points() {
        let text = "# comment\n[console_scripts]\nfoo = foo.cli:main\n; other comment\n  bar=bar : app.run [extra1, extra2]\n\
                    baz = baz\n[pytest11]\nplugin = what ever: not checked\n[gui_scripts]\nwin = gui_mod:Main.start\n";
        assert_eq!(
            parse_entry_points(text).unwrap(),
            vec![
                ep("foo", "foo.cli", Some("main"), false),
                ep("bar", "bar", Some("app.run"), false),
                ep("baz", "baz", None, false),
                ep("win", "gui_mod", Some("Main.start"), true),
            ]
        );
    }

    #[test]
    fn one_entry_point_per_name_as_pip_writes_them() {
        let text = "[gui_scripts]\ntool = gui_mod:run\n[console_scripts]\ntool = cli_mod:main\n\
                    twice = first:main\nother = o:main\ntwice = second:main\n";
        assert_eq!(
            parse_entry_points(text).unwrap(),
            vec![
                ep("tool", "gui_mod", Some("run"), true),
                ep("other", "o", Some("main"), false),
                ep("twice", "second", Some("main"), false),
            ]
        );
    }

    #[test]
    fn entry_point_errors() {
        let err = |t: &str| parse_entry_points(&format!("[console_scripts]\n{t}\n")).unwrap_err();
        assert_eq!(err("../evil = a:b"), "line 2: unsafe script name \"../evil\"");
        assert_eq!(err("a\\b = a:b"), "line 2: unsafe script name \"a\\\\b\"");
        assert_eq!(err(".hidden = a:b"), "line 2: unsafe script name \".hidden\"");
        assert_eq!(err(". = a:b"), "line 2: unsafe script name \".\"");
        assert_eq!(err(".. = a:b"), "line 2: unsafe script name \"..\"");
        assert_eq!(err("a\0b = a:b"), "line 2: unsafe script name \"a\\0b\"");
        assert_eq!(err("x = a-b:c"), "line 2: invalid module \"a-b\" for script \"x\"");
        assert_eq!(err("x = a:c()"), "line 2: invalid object \"c()\" for script \"x\"");
        assert_eq!(err("x = a:1c"), "line 2: invalid object \"1c\" for script \"x\"");
        assert_eq!(err("x = a..b:c"), "line 2: invalid module \"a..b\" for script \"x\"");
        assert_eq!(err("just-a-line"), "line 2: expected `name = module:object`, found \"just-a-line\"");
        assert_eq!(err("x = a:b [oops"), "line 2: unterminated extras in \"a:b [oops\"");
        // A launcher's name must fit in a file name: 255 bytes (NAME_MAX), not characters.
        let long = format!("{} = a:b", "é".repeat(128));
        assert_eq!(
            err(&long),
            format!(
                "line 2: script name \"{}\"… (256 bytes) is longer than a file name can be (255 bytes)",
                "é".repeat(32)
            )
        );
        let longest = format!("[console_scripts]\n{}é = a:b\n", "x".repeat(253));
        assert_eq!(parse_entry_points(&longest).unwrap()[0].name.len(), 255);
        assert_eq!(
            parse_entry_points("[console_scripts\n").unwrap_err(),
            "line 1: unterminated section header \"[console_scripts\""
        );
    }
}
