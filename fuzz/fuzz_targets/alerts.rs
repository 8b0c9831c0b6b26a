//! A `/api/alerts` answer body, decoded as the client decodes it. A kept alert has an id and is
//! dated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::mde::fuzzing::alerts_page;

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = alerts_page(data) {
        assert!(page.items.iter().all(|alert| !alert.id.trim().is_empty()));
    }
});
