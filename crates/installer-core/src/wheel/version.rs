//! Just enough of PEP 440 to tell whether two spellings name one version: the file name, the
//! `.dist-info` directory and METADATA may spell it differently (`1.0` / `1.0.0`, `1.0-RC1` /
//! `1.0rc1`), and refusing those would refuse wheels pip installs.

/// Whether `a` and `b` are the same version: equal after PEP 440 normalisation (trailing
/// zeros of the release ignored, as `packaging.utils.canonicalize_version` does), or, for
/// versions PEP 440 cannot parse, equal ignoring case and `-`/`_`/`.` differences.
pub(crate) fn versions_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (canonical(a), canonical(b)) {
        (Some(a), Some(b)) => a == b,
        _ => {
            let lite = |v: &str| v.trim().to_ascii_lowercase().replace(['_', '-'], ".");
            lite(a) == lite(b)
        }
    }
}

/// The canonical form of a PEP 440 version, `None` when it is not one.
fn canonical(version: &str) -> Option<String> {
    let v = version.trim().to_ascii_lowercase();
    let v = v.strip_prefix('v').unwrap_or(&v);
    let (public, local) = match v.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (v, None),
    };
    let mut out = String::new();
    let (epoch, rest) = match public.split_once('!') {
        Some((e, r)) => (e.parse::<u64>().ok()?, r),
        None => (0, public),
    };
    if epoch != 0 {
        out.push_str(&format!("{epoch}!"));
    }
    let mut s = Scanner { rest };
    let mut release = vec![s.number()?];
    while s.rest.starts_with('.') && s.rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        s.rest = &s.rest[1..];
        release.push(s.number()?);
    }
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    out.push_str(&release.iter().map(u64::to_string).collect::<Vec<_>>().join("."));
    let pre = [
        ("alpha", "a"),
        ("a", "a"),
        ("beta", "b"),
        ("b", "b"),
        ("rc", "rc"),
        ("c", "rc"),
        ("preview", "rc"),
        ("pre", "rc"),
    ];
    if let Some(label) = s.label(&pre) {
        out.push_str(label);
        out.push_str(&s.optional_number().to_string());
    }
    if let Some(_post) = s.label(&[("post", ""), ("rev", ""), ("r", "")]) {
        out.push_str(&format!(".post{}", s.optional_number()));
    } else if s.rest.starts_with('-') && s.rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        s.rest = &s.rest[1..];
        out.push_str(&format!(".post{}", s.number()?));
    }
    if s.label(&[("dev", "")]).is_some() {
        out.push_str(&format!(".dev{}", s.optional_number()));
    }
    if !s.rest.is_empty() {
        return None;
    }
    if let Some(local) = local {
        let parts: Vec<&str> = local.split(['.', '-', '_']).collect();
        if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric())) {
            return None;
        }
        out.push('+');
        out.push_str(&parts.join("."));
    }
    Some(out)
}

struct Scanner<'a> {
    rest: &'a str,
}

impl Scanner<'_> {
    fn number(&mut self) -> Option<u64> {
        let end = self.rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(self.rest.len());
        let n = self.rest[..end].parse().ok()?;
        self.rest = &self.rest[end..];
        Some(n)
    }

    /// `[-_.]?N`, 0 when absent (PEP 440's implicit numbers).
    fn optional_number(&mut self) -> u64 {
        let saved = self.rest;
        self.rest = self.rest.strip_prefix(['-', '_', '.']).unwrap_or(self.rest);
        match self.number() {
            Some(n) => n,
            None => {
                self.rest = saved;
                0
            }
        }
    }

    /// `[-_.]?label` for the first matching label; returns its normalised spelling.
    fn label(&mut self, labels: &[(&str, &'static str)]) -> Option<&'static str> {
        let after_sep = self.rest.strip_prefix(['-', '_', '.']).unwrap_or(self.rest);
        let (label, normal) = labels.iter().find(|(l, _)| after_sep.starts_with(l))?;
        self.rest = &after_sep[label.len()..];
        Some(normal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_versions() {
        for (a, b) in [
            ("1.0", "1.0"),
            ("1.0", "1.0.0"),
            ("1.0", "1"),
            ("1.0RC1", "1.0rc1"),
            ("1.0-rc.1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0alpha", "1.0a0"),
            ("1.0-1", "1.0.post1"),
            ("1.0_post1", "1.0.post1"),
            ("1.0.rev2", "1.0.post2"),
            ("1.0.dev", "1.0.dev0"),
            ("v2.0", "2.0"),
            ("0!1.0", "1.0"),
            ("1.0+Local_1", "1.0+local.1"),
            ("2.9.0.post0", "2.9.0.post0"),
            ("weird-legacy", "weird_legacy"),
        ] {
            assert!(versions_match(a, b), "{a} vs {b}");
        }
    }

    #[test]
    fn different_versions() {
        for (a, b) in [
            ("1.0", "1.0.1"),
            ("1.0", "1.1"),
            ("1.0a1", "1.0b1"),
            ("1.0", "1.0.post0"),
            ("1.0", "1.0.dev0"),
            ("1!1.0", "1.0"),
            ("1.0+a", "1.0+b"),
            ("1.0", "1.0+a"),
            ("10", "1.0"),
        ] {
            assert!(!versions_match(a, b), "{a} vs {b}");
        }
    }
}
