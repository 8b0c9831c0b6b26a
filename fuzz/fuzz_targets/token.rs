//! Entra ID's answer to a token request: the first byte picks the status, the second the
//! Content-Type, the rest is the body; read by oauth2 and `auth::token_answer` as sign-in reads
//! it. A token never lives longer than a day.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::mde::fuzzing::token_answer;

const STATUSES: [u16; 6] = [200, 400, 401, 403, 500, 302];
const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/html"),
];

fuzz_target!(|data: &[u8]| {
    let [status, content_type, body @ ..] = data else {
        return;
    };
    let status = STATUSES[usize::from(*status) % STATUSES.len()];
    let content_type = CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()];
    let before = chrono::Utc::now();
    if let Ok(token) = token_answer(status, content_type, body) {
        assert_eq!(status, 200);
        assert!(token.expires_at >= before);
        assert!(token.expires_at <= chrono::Utc::now() + chrono::TimeDelta::days(1));
    }
});
