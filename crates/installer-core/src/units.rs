//! Numbers for people: counts with thousands separators, sizes in binary units.

/// `12804` → `12,804`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 file`, `12,804 files`: a count with the noun that agrees with it.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Bytes in the largest binary unit that keeps a number ≥ 1, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A size as people write it: `10G`, `2GB` (powers of 1000), `500MiB`, `1Gi` (powers of
/// 1024), or plain bytes; case and a space before the unit do not matter. For
/// `cache-max-size` and `cache prune --max-size`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    parse_size::parse_size(text.trim()).map_err(|e| {
        format!("{e}: expected a size such as 10G, 2GB, 500MiB or a number of bytes, found `{text}`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_decimal_and_binary_units() {
        assert_eq!(parse_size("10G"), Ok(10_000_000_000));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("500MiB"), Ok(500 << 20));
        assert_eq!(parse_size(" 1 gib "), Ok(1 << 30));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert!(parse_size("ten").unwrap_err().ends_with("found `ten`"));
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(thousands(12804), "12,804");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(count(1, "directory", "directories"), "1 directory");
        assert_eq!(count(1200, "directory", "directories"), "1,200 directories");
        assert_eq!(human_bytes(73 * 1024 * 1024 + 100_000), "73.1 MiB");
    }
}
