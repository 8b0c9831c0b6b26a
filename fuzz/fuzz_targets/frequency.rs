//! A sync frequency as the CLI takes it (`Frequency::parse_cli`) and as a settings file can hold
//! it (any cron text): validated as every form, CLI and settings load does, described, and its
//! next run computed, as the scheduler does.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use mde_car_core::config::Frequency;
use mde_car_core::mde::fuzzing::frequency_problems;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let after = DateTime::<Utc>::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    let mut frequencies = vec![Frequency::Cron {
        expression: text.to_owned(),
    }];
    if let Ok(parsed) = Frequency::parse_cli(text) {
        frequencies.push(parsed);
    }
    for frequency in frequencies {
        let problems = frequency_problems(&frequency);
        let _ = frequency.describe();
        let next = frequency.next_after(after);
        if problems.is_empty() {
            let next = next.expect("a valid frequency runs again");
            assert!(next > after, "{frequency:?}: {next} is not after {after}");
        }
    }
});
