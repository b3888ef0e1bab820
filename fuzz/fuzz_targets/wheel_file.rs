//! `WHEEL`: any text parses or is refused, without a panic.
#![no_main]

use installer_core::wheel::metadata::parse_wheel_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_wheel_file(&String::from_utf8_lossy(data));
});
