//! `installer verify` on real environments: clean after an install, then a modified, a
//! missing and an unrecorded file, in text and JSON.

mod support;

use support::*;

#[test]
fn verify_reports_modified_missing_and_unrecorded_files_per_distribution() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let (v, c) = (venv.to_str().unwrap(), cache.to_str().unwrap());
    // Copies: editing a hardlinked file would edit the cache too.
    let wheels = [fixture("fixture_pkg-1.0"), fixture("fixture_data-1.0")];
    let mut args = vec!["install", "-q", "--link-mode", "copy", "--venv", v, "--cache-dir", c];
    args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
    assert_ok(&installer(tmp.path(), &args));

    let out = installer(tmp.path(), &["verify", "--venv", v]);
    assert_ok(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.ends_with("files: every file matches its RECORD\n"), "{stdout}");
    // Bytecode Python writes on import is not a difference.
    python(&venv, "import fixture_pkg.cli, fixture_data");

    let site = site_packages(&venv);
    let site_rel = site.strip_prefix(&venv).unwrap().to_str().unwrap().to_string();
    std::fs::write(site.join("fixture_pkg/__init__.py"), "changed\n").unwrap();
    std::fs::remove_file(venv.join("bin/fixture-hello")).unwrap();
    std::fs::write(site.join("fixture_pkg/sub/stray.py"), "").unwrap();

    let out = installer(tmp.path(), &["verify", "--venv", v, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: 3 installed files differ from their RECORD in "),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["command"].as_str(), report["differences"].as_u64()), (Some("verify"), Some(3)));
    let pkg = &report["distributions"][1];
    assert_eq!(pkg["name"], "fixture-pkg");
    assert_eq!(pkg["modified"], serde_json::json!([format!("{site_rel}/fixture_pkg/__init__.py")]));
    assert_eq!(pkg["missing"], serde_json::json!(["bin/fixture-hello"]));
    assert_eq!(pkg["unrecorded"], serde_json::json!([format!("{site_rel}/fixture_pkg/sub/stray.py")]));
    let data = &report["distributions"][0];
    assert_eq!(
        (data["name"].as_str(), data["modified"].as_array().unwrap().len()),
        (Some("fixture-data"), 0)
    );

    let out = installer(tmp.path(), &["verify", "--venv", v]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "fixture-pkg 1.0\n  modified   {site_rel}/fixture_pkg/__init__.py\n  missing    bin/fixture-hello\n  \
         unrecorded {site_rel}/fixture_pkg/sub/stray.py\n"
    );
    assert!(stdout.starts_with(&expected), "{stdout}");
    assert!(stdout.ends_with("differences\n"), "{stdout}");
}
