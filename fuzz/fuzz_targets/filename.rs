//! Wheel file names: any string parses or is refused; a parsed name normalises without a panic.
#![no_main]

use installer_core::wheel::{normalize_name, WheelFilename};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = WheelFilename::parse(name) {
        assert!(!parsed.name.is_empty() && !parsed.version.is_empty(), "{parsed:?}");
        let normalized = parsed.normalized_name();
        assert_eq!(normalize_name(&normalized), normalized, "normalisation is idempotent");
    }
});
