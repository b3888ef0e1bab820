//! `entry_points.txt`: any text parses or is refused; parsed names and modules are never empty.
#![no_main]

use installer_core::wheel::metadata::parse_entry_points;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(entry_points) = parse_entry_points(text) {
        for ep in entry_points {
            assert!(!ep.name.is_empty() && !ep.module.is_empty(), "{ep:?}");
        }
    }
});
