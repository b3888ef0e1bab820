//! RECORD: any text parses or is refused; what parses survives a write/parse round trip.
#![no_main]

use installer_core::wheel::record::{parse_record, write_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(entries) = parse_record(text) {
        let again = parse_record(&write_record(&entries)).expect("written RECORD parses");
        assert_eq!(again, entries, "RECORD round trip");
    }
});
