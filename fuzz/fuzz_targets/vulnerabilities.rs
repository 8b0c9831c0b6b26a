//! A page of the vulnerability exports (full, and changes), decoded as the client decodes it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::mde::fuzzing::{vulnerabilities_page, vulnerability_changes_page};

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = vulnerabilities_page(data) {
        assert!(
            page.items
                .iter()
                .all(|row| !row.device_id.trim().is_empty() && !row.cve_id.trim().is_empty())
        );
    }
    let _ = vulnerability_changes_page(data);
});
