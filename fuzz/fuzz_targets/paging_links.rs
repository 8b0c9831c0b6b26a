//! An `@odata.nextLink` as a page of `/api/machines` or `/api/alerts` carries it, and an
//! export's `$skiptoken` link: the checks that decide whether the client follows it (with the
//! bearer token). A link that is followed must stay on the API's host and path, move `$skip`
//! forward, and for an export carry a token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mde_car_core::mde::fuzzing::{export_link, next_link};
use url::Url;

const LIST: &str = "https://api.security.microsoft.com/api/machines";
const EXPORT: &str =
    "https://api.security.microsoft.com/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=2";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, link)) = data.split_first() else {
        return;
    };
    let Ok(link) = std::str::from_utf8(link) else {
        return;
    };
    let filter = (mode & 1 == 1).then_some("lastSeen ge 2026-11-20T14:00:00Z");
    let top = (mode & 2 == 2).then_some(10_000);
    let current_skip = usize::from(mode >> 2) * 10_000;
    if let Some(skip) = next_link(link, LIST, filter, top, current_skip) {
        let url = Url::parse(link).expect("a followed link is a URL");
        assert_eq!(url.host_str(), Some("api.security.microsoft.com"), "{link}");
        assert_eq!(url.scheme(), "https", "{link}");
        assert!(
            skip > current_skip,
            "{link}: $skip {skip} <= {current_skip}"
        );
    }
    if let Some(token) = export_link(link, EXPORT) {
        let url = Url::parse(link).expect("a followed link is a URL");
        assert_eq!(url.host_str(), Some("api.security.microsoft.com"), "{link}");
        assert_eq!(url.port_or_known_default(), Some(443), "{link}");
        assert!(!token.is_empty(), "{link}");
    }
});
