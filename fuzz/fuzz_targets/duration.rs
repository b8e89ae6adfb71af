//! tcld's duration grammar (`-d 1y`, `30d10h`, `1.5d`): no panic, no overflow, and a parsed
//! value prints as text that parses back to the same value.
#![no_main]

use gatehouse_pki::ValidityPeriod;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = ValidityPeriod::parse(text) {
        let printed = d.to_string();
        let again = ValidityPeriod::parse(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
        assert_eq!(again, d, "{text:?} -> {printed:?}");
        let _ = d.to_duration();
    }
});
