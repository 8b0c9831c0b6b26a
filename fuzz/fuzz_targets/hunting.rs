//! An advanced hunting answer (legacy or Graph), each row read as a `DeviceNetworkInfo` report
//! and as a sign-in, as the history readers do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::mde::fuzzing::hunting_answer;

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = hunting_answer(data) {
        assert!(answer.network.len() <= answer.rows);
        assert!(answer.logons.len() <= answer.rows);
    }
});
