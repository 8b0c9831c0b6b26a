//! The search box's text (and the separately given time after a NUL byte) through
//! `Query::parse_explained`, the parser behind every search surface. A parsed query is described
//! and printed, and its printed form must parse back to the same query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::search::Query;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (text, at) = match text.split_once('\0') {
        Some((text, at)) => (text, Some(at)),
        None => (text, None),
    };
    let Ok((query, _notes)) = Query::parse_explained(text, at) else {
        return;
    };
    let _ = query.describe();
    let _ = query.info();
    // The printed form keeps whole seconds only.
    let printed = query.to_string();
    let again = Query::parse(&printed, None)
        .unwrap_or_else(|error| panic!("{text:?} printed as {printed:?}, which fails: {error}"));
    assert_eq!(again.kind(), query.kind(), "{printed:?}");
    assert_eq!(again.value(), query.value(), "{printed:?}");
    assert_eq!(
        again.at().map(|at| at.timestamp()),
        query.at().map(|at| at.timestamp()),
        "{printed:?}"
    );
});
