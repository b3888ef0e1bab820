//! What install and uninstall print when they are done: uv-style lines for people on stderr
//! (`Installed 3 wheels in 312ms`, ` + name==version`, ` - name==old`), or one JSON object on
//! stdout for programs (`--format json`, documented in docs/json-output.md).

use std::path::Path;
use std::time::Duration;

use installer_core::install::{DistVersion, InstallSummary};
use installer_core::uninstall::UninstallSummary;
use installer_core::units::{count, human_bytes};
use serde_json::{json, Value};

use crate::style;

/// `312ms` below a second, `1.77s` above, as uv prints times.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// The lines of an install's text summary.
pub fn install_text(s: &InstallSummary, elapsed: Duration, verbose: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let verb = if s.dry_run { "Would install" } else { "Installed" };
    let mut head = format!("{verb} {}", count(s.installed.len() as u64, "wheel", "wheels"));
    if !s.installed.is_empty() && !s.dry_run {
        head.push_str(&format!(" ({})", count(s.files, "file", "files")));
    }
    if !s.dry_run {
        head.push_str(&format!(" in {}", duration(elapsed)));
    }
    if !s.installed.is_empty() {
        head.push_str(&format!(": {}", s.link_mode));
        if let Some(failed) = s.fell_back_from {
            head.push_str(&format!(
                " ({} copied, {}; {failed} was not possible)",
                count(s.copied_files, "file", "files"),
                human_bytes(s.copied_bytes)
            ));
        }
        if let Some(shard) = &s.shard {
            head.push_str(&format!(" from the cache shard {}", shard.display()));
        }
    }
    if !s.skipped.is_empty() {
        head.push_str(&format!(
            "; {} already installed (--reinstall to replace)",
            count(s.skipped.len() as u64, "wheel", "wheels")
        ));
    }
    if s.dry_run {
        if let Some(venv) = &s.created_venv {
            lines.push(format!("Would create virtual environment at {}", venv.display()));
        }
        head.push_str("; nothing was changed (--dry-run)");
    }
    lines.push(head);
    // As uv lists changes: by name, an old version's `-` before the new one's `+`.
    let mut changes: Vec<(&str, u8, String)> = Vec::new();
    for d in &s.replaced {
        changes.push((&d.name, 0, style::removed(&d.name, &d.version)));
    }
    for d in &s.installed {
        changes.push((&d.name, 1, style::added(&d.name, &d.version)));
    }
    changes.sort_by_key(|(name, order, _)| (name.to_lowercase(), *order));
    lines.extend(changes.into_iter().map(|(_, _, line)| line));
    if verbose {
        for d in &s.skipped {
            lines.push(format!(" = {}=={} (already installed)", d.name, d.version));
        }
    }
    lines
}

/// The lines of an uninstall's text summary.
pub fn uninstall_text(s: &UninstallSummary, elapsed: Duration) -> Vec<String> {
    if s.removed.is_empty() {
        // Every name was reported as not installed: nothing more to say.
        return Vec::new();
    }
    let mut lines = vec![format!(
        "Uninstalled {} ({}) in {}",
        count(s.removed.len() as u64, "distribution", "distributions"),
        count(s.files, "file", "files"),
        duration(elapsed)
    )];
    lines.extend(s.removed.iter().map(|d| style::removed(&d.name, &d.version)));
    lines
}

fn dists(list: &[DistVersion]) -> Value {
    Value::Array(list.iter().map(|d| json!({ "name": d.name, "version": d.version })).collect())
}

/// The `--format json` object of an install (docs/json-output.md).
pub fn install_json(s: &InstallSummary, environment: &Path, elapsed: Duration) -> Value {
    let timings: serde_json::Map<String, Value> =
        s.timings.iter().map(|(name, d)| (name.to_string(), json!(millis(*d)))).collect();
    json!({
        "command": "install",
        "dry_run": s.dry_run,
        "environment": environment,
        "created_environment": s.created_venv.is_some(),
        "installed": dists(&s.installed),
        "replaced": dists(&s.replaced),
        "skipped": dists(&s.skipped),
        "files": s.files,
        "link_mode": s.link_mode.to_string(),
        "fallback_from": s.fell_back_from.map(|m| m.to_string()),
        "shard": s.shard,
        "copied_files": s.copied_files,
        "copied_bytes": s.copied_bytes,
        "elapsed_ms": millis(elapsed),
        "timings_ms": timings,
    })
}

/// The `--format json` object of an uninstall (docs/json-output.md).
pub fn uninstall_json(s: &UninstallSummary, environment: &Path, elapsed: Duration) -> Value {
    json!({
        "command": "uninstall",
        "environment": environment,
        "removed": dists(&s.removed),
        "not_installed": s.not_installed,
        "files": s.files,
        "elapsed_ms": millis(elapsed),
    })
}

/// Milliseconds with a tenth, for JSON.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use installer_core::ConcreteLinkMode;

    fn dv(name: &str, version: &str) -> DistVersion {
        DistVersion { name: name.into(), version: version.into() }
    }

    fn summary() -> InstallSummary {
        InstallSummary {
            installed: vec![dv("urllib3", "2.7.0"), dv("Alpha", "1.0")],
            replaced: vec![dv("urllib3", "2.8.0")],
            skipped: vec![dv("six", "1.17.0"), dv("idna", "3.10")],
            files: 1234,
            link_mode: ConcreteLinkMode::Hardlink,
            fell_back_from: None,
            copied_files: 0,
            copied_bytes: 0,
            shard: None,
            created_venv: None,
            dry_run: false,
            timings: vec![("cache", Duration::from_micros(4100))],
        }
    }

    #[test]
    fn times_are_ms_below_a_second() {
        assert_eq!(duration(Duration::from_micros(312_400)), "312ms");
        assert_eq!(duration(Duration::from_millis(1770)), "1.77s");
        assert_eq!(duration(Duration::from_micros(300)), "0ms");
    }

    #[test]
    fn changes_are_listed_as_uv_lists_them_and_skips_are_a_count() {
        console::set_colors_enabled_stderr(false);
        let lines = install_text(&summary(), Duration::from_millis(312), false);
        assert_eq!(
            lines,
            [
                "Installed 2 wheels (1,234 files) in 312ms: hardlink; 2 wheels already installed (--reinstall to replace)",
                " + Alpha==1.0",
                " - urllib3==2.8.0",
                " + urllib3==2.7.0",
            ]
        );
        let verbose = install_text(&summary(), Duration::from_millis(312), true);
        assert_eq!(verbose[4..], [" = six==1.17.0 (already installed)", " = idna==3.10 (already installed)"]);
    }

    #[test]
    fn json_has_every_documented_key() {
        let value = install_json(&summary(), Path::new("/v"), Duration::from_micros(312_450));
        assert_eq!(value["installed"][0], json!({ "name": "urllib3", "version": "2.7.0" }));
        assert_eq!(value["replaced"][0]["version"], "2.8.0");
        assert_eq!(value["link_mode"], "hardlink");
        assert_eq!(value["fallback_from"], Value::Null);
        assert_eq!(value["elapsed_ms"], 312.5);
        assert_eq!(value["timings_ms"]["cache"], 4.1);
        assert_eq!(value["created_environment"], false);
    }
}
