//! A `/api/machines` answer body, decoded as the client decodes it (the transport's JSON
//! reading, then each item to a `Device`). A kept device has an id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::mde::fuzzing::machines_page;

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = machines_page(data) {
        assert!(page.items.iter().all(|device| !device.id.trim().is_empty()));
    }
});
