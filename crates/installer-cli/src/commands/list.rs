//! `installer list`: what is installed, in columns for people or JSON for programs.

use std::io::Write;

use installer_core::installed::{list, ListedDist};
use installer_core::venv::Venv;
use installer_core::{Error, Result};

use crate::args::{Format, ListArgs, VenvArg};
use crate::settings;

pub fn run(args: ListArgs) -> Result<()> {
    let venv = open(&args.venv)?;
    let dists = list(&venv)?;
    let text = match args.format.format {
        Format::Text => text(&dists),
        Format::Json => json(&dists),
    };
    print(&text)
}

/// The existing environment that `--venv`, `-p`, `--target` or `--prefix` names.
pub(super) fn open(args: &VenvArg) -> Result<Venv> {
    match settings::open_environment(args)? {
        Some(venv) => Ok(venv),
        None => Venv::open(&settings::environment(args)?.0),
    }
}

/// Writes `text` to stdout; a closed pipe (`installer list | head`) is not a failure.
pub(super) fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(|e| Error::io("write to", "standard output", e)),
    }
}

/// Aligned columns under a header, as `pip list` prints them; nothing for an empty environment.
fn text(dists: &[ListedDist]) -> String {
    if dists.is_empty() {
        return String::new();
    }
    let rows: Vec<[&str; 3]> = dists
        .iter()
        .map(|d| [d.name.as_str(), d.version.as_str(), d.installer.as_deref().unwrap_or("-")])
        .collect();
    let header = ["Name", "Version", "Installer"];
    let width = |col: usize| {
        rows.iter().map(|r| r[col].chars().count()).chain([header[col].len()]).max().unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    let mut line = |cells: [&str; 3]| {
        out.push_str(format!("{:w0$}  {:w1$}  {}", cells[0], cells[1], cells[2]).trim_end());
        out.push('\n');
    };
    line(header);
    line(["-".repeat(w0).as_str(), "-".repeat(w1).as_str(), "-".repeat(width(2)).as_str()]);
    for row in rows {
        line(row);
    }
    out
}

/// `[{"name": ..., "version": ..., "installer": ... or null}, ...]`, one line.
fn json(dists: &[ListedDist]) -> String {
    let values: Vec<serde_json::Value> = dists
        .iter()
        .map(|d| serde_json::json!({ "name": d.name, "version": d.version, "installer": d.installer }))
        .collect();
    let mut out = serde_json::Value::Array(values).to_string();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(name: &str, version: &str, installer: Option<&str>) -> ListedDist {
        ListedDist { name: name.into(), version: version.into(), installer: installer.map(Into::into) }
    }

    #[test]
    fn text_columns_line_up() {
        let dists = [dist("fixture-pkg", "1.0", Some("installer")), dist("x", "10.2.3", None)];
        assert_eq!(
            text(&dists),
            "Name         Version  Installer\n\
             -----------  -------  ---------\n\
             fixture-pkg  1.0      installer\n\
             x            10.2.3   -\n"
        );
        assert_eq!(text(&[]), "");
    }

    #[test]
    fn json_has_null_for_an_unknown_installer() {
        let parsed: serde_json::Value = serde_json::from_str(&json(&[dist("a", "1", None)])).unwrap();
        assert_eq!(parsed, serde_json::json!([{ "name": "a", "version": "1", "installer": null }]));
    }
}
