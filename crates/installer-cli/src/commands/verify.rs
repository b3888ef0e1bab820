//! `installer verify`: the report on stdout (text or JSON), then exit 1 with an `error:` line
//! when anything differs.

use installer_core::verify::{verify, DistVerification, Verification};
use installer_core::Result;

use crate::args::{Format, ListArgs};

pub fn run(args: ListArgs) -> Result<()> {
    let venv = super::list::open(&args.venv)?;
    let cancel = installer_core::Cancel::new();
    crate::cancel_on_ctrl_c(&cancel);
    let found = verify(&venv, 0, &cancel)?;
    let text = match args.format.format {
        Format::Text => text(&found),
        Format::Json => json(&found),
    };
    super::list::print(&text)?;
    found.into_result(&venv).map(drop)
}

/// One block per distribution that differs (`  modified <path>` lines), then a summary line.
fn text(found: &Verification) -> String {
    let mut out = String::new();
    for dist in found.dists.iter().filter(|d| d.differences() > 0) {
        out.push_str(&format!("{} {}\n", dist.name, dist.version));
        for (kind, paths) in kinds(dist) {
            for path in paths {
                out.push_str(&format!("  {kind:<10} {}\n", path.display()));
            }
        }
    }
    let (dists, differences) = (found.dists.len(), found.differences());
    if differences == 0 {
        out.push_str(&format!(
            "{dists} distributions, {} files: every file matches its RECORD\n",
            found.files_checked
        ));
    } else {
        out.push_str(&format!(
            "{dists} distributions, {} files: {differences} differences\n",
            found.files_checked
        ));
    }
    out
}

fn kinds(dist: &DistVerification) -> [(&'static str, &[std::path::PathBuf]); 3] {
    [("modified", &dist.modified), ("missing", &dist.missing), ("unrecorded", &dist.unrecorded)]
}

/// `{"command": "verify", "files_checked": N, "differences": N, "distributions": [{name, version, modified: [...],
/// missing: [...], unrecorded: [...]}, ...]}`, every distribution listed, paths relative to the
/// environment.
fn json(found: &Verification) -> String {
    let dists: Vec<serde_json::Value> = found
        .dists
        .iter()
        .map(|d| {
            let mut value = serde_json::json!({ "name": d.name, "version": d.version });
            for (kind, paths) in kinds(d) {
                value[kind] = paths.iter().map(|p| p.to_string_lossy()).collect();
            }
            value
        })
        .collect();
    let value = serde_json::json!({
        "command": "verify",
        "files_checked": found.files_checked,
        "differences": found.differences(),
        "distributions": dists,
    });
    format!("{value}\n")
}
