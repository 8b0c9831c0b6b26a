//! The search box's grammar: what one query string may be, and a specific explanation of why
//! an input is not one of them. Nothing here touches the database.

use std::{fmt, net::IpAddr, str::FromStr};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ipnet::IpNet;
use serde::Serialize;

use crate::model::{MacAddress, Timestamp};

/// Longest accepted query. A host name has at most 253 characters and "IP @ time" about 60;
/// anything longer is pasted by mistake (a log line, a file).
pub const MAX_QUERY_CHARS: usize = 300;

/// The accepted forms, for the end of every error message and the search box's hint line.
pub const ACCEPTED_FORMS: &str = "an IP address (10.1.2.3, 2001:db8::1), a CIDR range \
(10.1.2.0/24), a host name or its beginning (web01), a MAC address (aa:bb:cc:dd:ee:ff, \
AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff or aabbccddeeff), or an IP at a time \
(10.1.2.3 @ 2026-11-20 14:00; times without a zone are UTC)";

/// The accepted time forms, for time errors.
pub const ACCEPTED_TIMES: &str = "2026-11-20 14:00 (UTC), 2026-11-20T14:00:00Z or \
2026-11-20T15:00:00+01:00; a time without a zone is read as UTC";

/// One parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One address; with `at`, only who held it at that moment.
    Address {
        ip: IpAddr,
        at: Option<Timestamp>,
    },
    /// Every address of a CIDR range (normalized to its network address).
    Range {
        network: IpNet,
        at: Option<Timestamp>,
    },
    /// Host names starting with `prefix` (lowercase; matched case-insensitively).
    HostName {
        prefix: String,
    },
    Mac {
        mac: MacAddress,
    },
}

/// Why a query string is not a query. Every message names what was wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the search is empty; enter {ACCEPTED_FORMS}")]
    Empty,
    #[error(
        "the search is {chars} characters long; at most {MAX_QUERY_CHARS} are accepted: enter {ACCEPTED_FORMS}"
    )]
    TooLong { chars: usize },
    #[error(
        "'{text}' is not a complete IPv4 address: it has {parts} of the 4 numbers (e.g. 10.1.2.3); for every address of a network use a CIDR range such as {suggestion}"
    )]
    IncompleteIpv4 {
        text: String,
        parts: usize,
        suggestion: String,
    },
    #[error(
        "'{text}' is not an IPv4 address: it has {parts} numbers, an IPv4 address has 4 (e.g. 10.1.2.3)"
    )]
    TooManyIpv4Parts { text: String, parts: usize },
    #[error(
        "'{text}' is not an IPv4 address: {number} is greater than 255 (each of the 4 numbers is 0 to 255)"
    )]
    Ipv4NumberTooLarge { text: String, number: String },
    #[error("'{text}' is not an IPv4 address: {reason}")]
    MalformedIpv4 { text: String, reason: &'static str },
    #[error(
        "'{text}' is neither an IPv6 address (e.g. 2001:db8::1) nor a MAC address (six pairs of hex digits, e.g. aa:bb:cc:dd:ee:ff)"
    )]
    NotIpv6OrMac { text: String },
    #[error(
        "'{text}' has a zone id (%…); addresses are stored without one: search for '{without}'"
    )]
    ZoneId { text: String, without: String },
    #[error(
        "'{text}' is not a CIDR range: '{address}' before the / is not an IP address (e.g. 10.1.2.0/24, 2001:db8::/32)"
    )]
    CidrAddress { text: String, address: String },
    #[error(
        "'{text}' is not a CIDR range: after the / comes a prefix length, a number from 0 to {max} for {family}"
    )]
    CidrPrefix {
        text: String,
        max: u8,
        family: &'static str,
    },
    #[error(
        "'{text}' is not a CIDR range: the prefix length {prefix} is out of range; {family} allows /0 to /{max}"
    )]
    CidrPrefixOutOfRange {
        text: String,
        prefix: u32,
        max: u8,
        family: &'static str,
    },
    #[error(
        "'{text}' is not an IP address: wildcards are not accepted; for every address of a network use a CIDR range such as {suggestion}"
    )]
    Wildcard { text: String, suggestion: String },
    #[error(
        "'{text}' is not something mde-car searches for: {found} cannot appear in a host name (letters, digits, '-', '.' and '_'); enter {ACCEPTED_FORMS}"
    )]
    UnexpectedCharacter { text: String, found: String },
    #[error(
        "a time (@ …) narrows an IP address or a CIDR range to who held it then; it does not apply to {kind} '{text}'"
    )]
    TimeNotApplicable { text: String, kind: &'static str },
    #[error(
        "the time is given twice ('{in_query}' in the search and '{separate}' separately); give it once"
    )]
    TimeTwice { in_query: String, separate: String },
    #[error("'{text}' is not a time mde-car reads ({reason}); write {ACCEPTED_TIMES}")]
    Time { text: String, reason: String },
    #[error("a time is missing after the @; write {ACCEPTED_TIMES}")]
    MissingTime,
}

impl Query {
    /// Parses the search box's text; `at` is a separately given time (the CLI's `--at`, the
    /// UI's time field), which applies like `@ time` in the text.
    pub fn parse(text: &str, at: Option<&str>) -> Result<Query, QueryError> {
        Query::parse_explained(text, at).map(|(query, _)| query)
    }

    /// [`Query::parse`], with notes on how the text was read: a time without a zone taken as
    /// UTC, host bits of a CIDR range dropped.
    pub fn parse_explained(
        text: &str,
        at: Option<&str>,
    ) -> Result<(Query, Vec<String>), QueryError> {
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong { chars });
        }
        let text = text.trim();
        let separate = at.map(str::trim).filter(|at| !at.is_empty());
        let (subject, time_text) = match text.split_once('@') {
            Some((subject, time)) => {
                if let Some(separate) = separate {
                    return Err(QueryError::TimeTwice {
                        in_query: time.trim().to_owned(),
                        separate: separate.to_owned(),
                    });
                }
                let time = time.trim();
                if time.is_empty() {
                    return Err(QueryError::MissingTime);
                }
                (subject.trim(), Some(time))
            }
            None => (text, separate),
        };
        if subject.is_empty() {
            return Err(QueryError::Empty);
        }
        let query = parse_subject(subject)?;
        let mut notes = Vec::new();
        if let Query::Range { network, .. } = &query
            && let Some((address, _)) = subject.split_once('/')
            && address.trim().parse::<IpAddr>().ok() != Some(network.network())
        {
            notes.push(format!(
                "{subject} has host bits set; searching its network {network}"
            ));
        }
        let Some(time_text) = time_text else {
            return Ok((query, notes));
        };
        let time = parse_time(time_text)?;
        if !time.zoned {
            notes.push(format!(
                "the time has no zone, so it is read as UTC: {}",
                format_time(time.time)
            ));
        }
        let query = match query {
            Query::Address { ip, .. } => Query::Address {
                ip,
                at: Some(time.time),
            },
            Query::Range { network, .. } => Query::Range {
                network,
                at: Some(time.time),
            },
            Query::HostName { .. } => {
                return Err(QueryError::TimeNotApplicable {
                    text: subject.to_owned(),
                    kind: "the host name",
                });
            }
            Query::Mac { .. } => {
                return Err(QueryError::TimeNotApplicable {
                    text: subject.to_owned(),
                    kind: "the MAC address",
                });
            }
        };
        Ok((query, notes))
    }

    /// `ip`, `cidr`, `ip_at_time`, `cidr_at_time`, `hostname` or `mac`.
    /// What the query is, as a sentence names it ("a CIDR range").
    pub fn kind_phrase(&self) -> &'static str {
        match self {
            Query::Address { at: None, .. } => "an address",
            Query::Address { .. } => "an address at a time",
            Query::Range { .. } => "a CIDR range",
            Query::HostName { .. } => "a host name",
            Query::Mac { .. } => "a MAC address",
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Query::Address { at: None, .. } => "ip",
            Query::Address { at: Some(_), .. } => "ip_at_time",
            Query::Range { at: None, .. } => "cidr",
            Query::Range { at: Some(_), .. } => "cidr_at_time",
            Query::HostName { .. } => "hostname",
            Query::Mac { .. } => "mac",
        }
    }

    /// The moment the query is about, if any.
    pub fn at(&self) -> Option<Timestamp> {
        match self {
            Query::Address { at, .. } | Query::Range { at, .. } => *at,
            Query::HostName { .. } | Query::Mac { .. } => None,
        }
    }

    /// The searched value in its normal form: `10.1.2.3`, `10.1.2.0/24`, `web01`,
    /// `AA:BB:CC:DD:EE:FF`.
    pub fn value(&self) -> String {
        match self {
            Query::Address { ip, .. } => ip.to_string(),
            Query::Range { network, .. } => network.to_string(),
            Query::HostName { prefix } => prefix.clone(),
            Query::Mac { mac } => mac.to_string(),
        }
    }

    /// What the query was read as, in words, for the line above the results.
    pub fn describe(&self) -> String {
        let at = |time: &Option<Timestamp>| match time {
            Some(time) => format!(" at {}", format_time(*time)),
            None => String::new(),
        };
        match self {
            Query::Address { ip, at: time } => format!(
                "devices that held IP address {ip} ({}){}",
                crate::store::address_class(*ip).replace('_', "-"),
                at(time)
            ),
            Query::Range { network, at: time } => format!(
                "devices that held an address in {network} ({} to {}, {} addresses){}",
                network.network(),
                network.broadcast(),
                address_count(network),
                at(time)
            ),
            Query::HostName { prefix } => {
                format!("devices whose host name starts with '{prefix}' (any case)")
            }
            Query::Mac { mac } => format!("devices with MAC address {mac}"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix that alone reads as something else (`eba1111b1111` is a MAC) keeps the
        // trailing * that says "host names starting with", so the printed query reads back.
        if let Query::HostName { prefix } = self
            && !matches!(parse_subject(prefix), Ok(Query::HostName { .. }))
        {
            return write!(f, "{prefix}*");
        }
        match self.at() {
            Some(time) => write!(f, "{} @ {}", self.value(), format_time(time)),
            None => f.write_str(&self.value()),
        }
    }
}

/// What a query was read as, as every JSON surface writes it:
/// `{"kind": "ip_at_time", "value": "10.1.2.3", "at": "2026-11-20T14:00:00.000Z"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QueryInfo {
    /// `ip`, `ip_at_time`, `cidr`, `cidr_at_time`, `hostname` or `mac`.
    pub kind: &'static str,
    /// The searched value in its normal form.
    pub value: String,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub at: Option<Timestamp>,
}

impl Query {
    pub fn info(&self) -> QueryInfo {
        QueryInfo {
            kind: self.kind(),
            value: self.value(),
            at: self.at(),
        }
    }
}

impl Serialize for Query {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.info().serialize(serializer)
    }
}

#[cfg(feature = "specta")]
impl specta::Type for Query {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        QueryInfo::definition(types)
    }
}

/// `2026-11-20 14:00:00 UTC`: the one way times are shown in messages.
pub fn format_time(time: Timestamp) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn address_count(network: &IpNet) -> String {
    let host_bits = u32::from(network.max_prefix_len() - network.prefix_len());
    match 1u128.checked_shl(host_bits) {
        Some(count) => count.to_string(),
        None => "2^128".to_owned(),
    }
}

fn parse_subject(text: &str) -> Result<Query, QueryError> {
    if text.contains('/') {
        return parse_cidr(text);
    }
    // A MAC notation before an address: eight colon-separated pairs (an 8-byte MAC, as mde-car
    // prints one) are also a valid IPv6 address, and would otherwise never read as the MAC.
    if let Some(mac) = parse_mac(text) {
        return Ok(Query::Mac { mac });
    }
    if let Some(query) = parse_ip(text)? {
        return Ok(Query::Address {
            ip: query,
            at: None,
        });
    }
    if text.contains(':') {
        return Err(QueryError::NotIpv6OrMac {
            text: text.to_owned(),
        });
    }
    parse_hostname(text)
}

/// An IP address, or `None` when the text does not look like one at all (it may be a host
/// name). Text made of digits and dots (and not a MAC) is always read as IPv4, so `10.1.2` gets
/// an explanation instead of matching host names that start with "10.1.2".
fn parse_ip(text: &str) -> Result<Option<IpAddr>, QueryError> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Some((address, _zone)) = unbracketed.split_once('%')
        && address.parse::<IpAddr>().is_ok()
    {
        return Err(QueryError::ZoneId {
            text: text.to_owned(),
            without: address.to_owned(),
        });
    }
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        // ::ffff:10.1.2.3 is 10.1.2.3: the store keeps IPv4 that way.
        return Ok(Some(ip.to_canonical()));
    }
    let digits_and_dots = text.chars().all(|c| c.is_ascii_digit() || c == '.');
    if digits_and_dots && text.contains('.') {
        return Err(ipv4_problem(text));
    }
    let wildcard_ipv4 = text.contains('*')
        && text.contains('.')
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '*');
    if wildcard_ipv4 {
        let known: Vec<&str> = text
            .split('.')
            .take_while(|part| !part.is_empty() && !part.contains('*'))
            .collect();
        return Err(QueryError::Wildcard {
            text: text.to_owned(),
            suggestion: network_suggestion(&known),
        });
    }
    Ok(None)
}

/// Why digits-and-dots text is not an IPv4 address.
fn ipv4_problem(text: &str) -> QueryError {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return QueryError::MalformedIpv4 {
            text: text.to_owned(),
            reason: "a number is missing between two dots, or at the start or end",
        };
    }
    if let Some(number) = parts
        .iter()
        .find(|part| part.parse::<u64>().map_or(true, |n| n > 255))
    {
        return QueryError::Ipv4NumberTooLarge {
            text: text.to_owned(),
            number: (*number).to_owned(),
        };
    }
    match parts.len() {
        n if n < 4 => QueryError::IncompleteIpv4 {
            text: text.to_owned(),
            parts: n,
            suggestion: network_suggestion(&parts),
        },
        n if n > 4 => QueryError::TooManyIpv4Parts {
            text: text.to_owned(),
            parts: n,
        },
        _ => QueryError::MalformedIpv4 {
            text: text.to_owned(),
            reason: "a number has a leading zero, which is ambiguous (octal or decimal); write 10.1.2.3, not 10.01.2.3",
        },
    }
}

/// `10.1.2` → `10.1.2.0/24`: the network an incomplete address most likely means.
fn network_suggestion(known: &[&str]) -> String {
    let mut octets: Vec<String> = known.iter().take(3).map(|p| (*p).to_owned()).collect();
    let prefix = octets.len() * 8;
    while octets.len() < 4 {
        octets.push("0".to_owned());
    }
    format!("{}/{prefix}", octets.join("."))
}

fn parse_cidr(text: &str) -> Result<Query, QueryError> {
    let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
    let address = address.trim();
    let Ok(ip) = address.parse::<IpAddr>() else {
        return Err(QueryError::CidrAddress {
            text: text.to_owned(),
            address: address.to_owned(),
        });
    };
    let (max, family) = match ip {
        IpAddr::V4(_) => (32u8, "IPv4"),
        IpAddr::V6(_) => (128u8, "IPv6"),
    };
    let prefix_text = prefix.trim();
    let prefix: u32 = match prefix_text.parse() {
        Ok(prefix) if prefix_text.chars().all(|c| c.is_ascii_digit()) => prefix,
        // More digits than a u32 holds is still a number, just far out of range.
        _ if !prefix_text.is_empty() && prefix_text.chars().all(|c| c.is_ascii_digit()) => u32::MAX,
        _ => {
            return Err(QueryError::CidrPrefix {
                text: text.to_owned(),
                max,
                family,
            });
        }
    };
    let network = u8::try_from(prefix)
        .ok()
        .and_then(|prefix| IpNet::new(ip, prefix).ok())
        .ok_or(QueryError::CidrPrefixOutOfRange {
            text: text.to_owned(),
            prefix,
            max,
            family,
        })?;
    Ok(Query::Range {
        network: network.trunc(),
        at: None,
    })
}

/// A MAC in one of the common notations, each with consistent separators: six (or eight,
/// tunnel adapters) hex pairs joined by `:` or `-`, three (or four) groups of four hex
/// digits joined by `.`, or 12 (16) bare hex digits. Anything else is not a MAC, so a host name
/// such as `ab-cd` is not read as one.
fn parse_mac(text: &str) -> Option<MacAddress> {
    let hex = |group: &str, len: usize| {
        group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit())
    };
    let notation = if text.contains(':') || text.contains('-') {
        let separator = if text.contains(':') { ':' } else { '-' };
        let groups: Vec<&str> = text.split(separator).collect();
        matches!(groups.len(), 6 | 8) && groups.iter().all(|group| hex(group, 2))
    } else if text.contains('.') {
        let groups: Vec<&str> = text.split('.').collect();
        matches!(groups.len(), 3 | 4) && groups.iter().all(|group| hex(group, 4))
    } else {
        hex(text, 12) || hex(text, 16)
    };
    if notation {
        MacAddress::from_str(text).ok()
    } else {
        None
    }
}

fn parse_hostname(text: &str) -> Result<Query, QueryError> {
    // A trailing * says "starts with", which is what a host name search does anyway.
    let prefix = text.strip_suffix('*').unwrap_or(text);
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        let found = match bad {
            ' ' => "a space".to_owned(),
            c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
            c => format!("'{c}'"),
        };
        return Err(QueryError::UnexpectedCharacter {
            text: text.to_owned(),
            found,
        });
    }
    if prefix.is_empty() {
        return Err(QueryError::Empty);
    }
    Ok(Query::HostName {
        prefix: prefix.to_ascii_lowercase(),
    })
}

/// A parsed time and whether it carried its own zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTime {
    pub time: Timestamp,
    /// False when the text had no zone and was read as UTC.
    pub zoned: bool,
}

/// Reads `2026-11-20 14:00`, `2026-11-20 14:00:05`, `2026-11-20T14:00:00Z`,
/// `2026-11-20T15:00:00+01:00`, `2026-11-20 14:00 UTC` or a bare date (midnight). Without a
/// zone the time is UTC: Defender's times are UTC, and a laptop's zone is not the SOC's.
pub fn parse_time(text: &str) -> Result<ParsedTime, QueryError> {
    let original = text.trim();
    if original.is_empty() {
        return Err(QueryError::MissingTime);
    }
    // Every accepted form starts with a four-digit year. chrono also reads a signed or longer
    // one (-316, +10000), which mde-car then printed in a form it did not read back.
    let unsigned = original.trim_start_matches(['+', '-']);
    let year_digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    let dated = year_digits > 0 && unsigned.as_bytes().get(year_digits) == Some(&b'-');
    if dated && (unsigned.len() != original.len() || year_digits != 4) {
        return Err(QueryError::Time {
            text: original.to_owned(),
            reason: "it does not start with a four-digit year".to_owned(),
        });
    }
    let mut text = original.to_owned();
    // One space between date and time is as good as a T.
    if text.len() > 10 && text.as_bytes()[10] == b' ' {
        text.replace_range(10..11, "T");
    }
    let mut explicit_utc = false;
    for suffix in [" UTC", "UTC", "Z", "z"] {
        if let Some(stripped) = text.strip_suffix(suffix) {
            text = stripped.trim_end().to_owned();
            explicit_utc = true;
            break;
        }
    }
    let mut last_error = None;
    if !explicit_utc {
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M%:z",
            "%Y-%m-%dT%H:%M%z",
        ] {
            match DateTime::parse_from_str(&text, format) {
                Ok(time) => {
                    return Ok(ParsedTime {
                        time: time.with_timezone(&Utc),
                        zoned: true,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        match NaiveDateTime::parse_from_str(&text, format) {
            Ok(time) => {
                return Ok(ParsedTime {
                    time: time.and_utc(),
                    zoned: explicit_utc,
                });
            }
            Err(error) => last_error = Some(error),
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(ParsedTime {
            time: midnight.and_utc(),
            zoned: explicit_utc,
        });
    }
    let reason = match last_error.map(|error| error.kind()) {
        Some(chrono::format::ParseErrorKind::OutOfRange) => {
            "a month, day, hour or minute is out of range"
        }
        Some(chrono::format::ParseErrorKind::TooShort) => "it ends too early",
        Some(chrono::format::ParseErrorKind::TooLong) => "there is extra text after the time",
        _ => "it does not match a date and time",
    };
    Err(QueryError::Time {
        text: original.to_owned(),
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ok(text: &str) -> Query {
        Query::parse(text, None).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn err(text: &str) -> String {
        match Query::parse(text, None) {
            Ok(query) => panic!("{text:?} parsed as {query:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn addresses_of_both_families() {
        assert_eq!(
            ok(" 10.1.2.3 "),
            Query::Address {
                ip: "10.1.2.3".parse().unwrap(),
                at: None
            }
        );
        assert_eq!(
            ok("2001:DB8::1").value(),
            "2001:db8::1",
            "IPv6 is normalized"
        );
        assert_eq!(ok("[fe80::1]").value(), "fe80::1");
        assert_eq!(
            ok("::ffff:10.1.2.3"),
            ok("10.1.2.3"),
            "IPv4-mapped IPv6 is the IPv4 address"
        );
        assert_eq!(ok("10.1.2.3").kind(), "ip");
    }

    #[test]
    fn cidr_ranges_are_normalized_to_their_network() {
        let Query::Range { network, at: None } = ok("10.1.2.77/24") else {
            panic!("not a range");
        };
        assert_eq!(network.to_string(), "10.1.2.0/24");
        assert_eq!(ok("2001:db8::/32").value(), "2001:db8::/32");
        assert_eq!(ok("10.0.0.0/0").value(), "0.0.0.0/0");
        assert_eq!(ok("10.1.2.3/32").kind(), "cidr");
        assert!(ok("10.1.2.0/24").describe().contains("256 addresses"));
    }

    #[test]
    fn host_names_are_lowercase_prefixes() {
        assert_eq!(
            ok("WEB01"),
            Query::HostName {
                prefix: "web01".to_owned()
            }
        );
        assert_eq!(ok("web01.contoso.com").value(), "web01.contoso.com");
        assert_eq!(ok("db-*").value(), "db-", "a trailing * is allowed");
        assert_eq!(ok("ab-cd").kind(), "hostname", "not a MAC");
        assert_eq!(ok("1234").kind(), "hostname", "digits without dots");
        assert_eq!(ok("sql_01").kind(), "hostname");
    }

    #[test]
    fn macs_in_every_common_notation() {
        for text in [
            "aa:bb:cc:dd:ee:0f",
            "AA-BB-CC-DD-EE-0F",
            "aabb.ccdd.ee0f",
            "AABBCCDDEE0F",
        ] {
            assert_eq!(ok(text).value(), "AA:BB:CC:DD:EE:0F", "{text}");
            assert_eq!(ok(text).kind(), "mac");
        }
        assert_eq!(
            ok("00-15-5D-0A-0B-0C-0D-0E").value(),
            "00:15:5D:0A:0B:0C:0D:0E"
        );
    }

    #[test]
    fn an_eight_byte_mac_reads_back_as_the_mac_it_prints() {
        // Found by fuzzing (search_query): the printed form of this MAC read as an IPv6 address.
        let query = ok("7eba1111b1111111");
        assert_eq!(query.to_string(), "7E:BA:11:11:B1:11:11:11");
        assert_eq!(ok(&query.to_string()), query);
        assert_eq!(ok("00:15:5d:0a:0b:0c:0d:0e").kind(), "mac");
        assert_eq!(
            ok("2001:db8:0:0:0:0:0:1").kind(),
            "ip",
            "groups longer than two digits are an IPv6 address"
        );
    }

    #[test]
    fn a_host_name_prefix_that_reads_as_a_mac_prints_with_its_star() {
        // Found by fuzzing (search_query): printed without its *, this prefix read as a MAC.
        let query = ok("eba1111b1111*");
        assert_eq!(query.kind(), "hostname");
        assert_eq!(query.value(), "eba1111b1111");
        assert_eq!(query.to_string(), "eba1111b1111*");
        assert_eq!(ok(&query.to_string()), query);
        assert_eq!(
            ok("web01*").to_string(),
            "web01",
            "a plain prefix prints as it is"
        );
    }

    #[test]
    fn a_time_has_a_four_digit_year() {
        // Found by fuzzing (search_query): year -316 was read, and printed as -0316-11-20, which
        // did not read back.
        for text in [
            "-316-11-20 14:00 UTC",
            "+2026-11-20T14:00:00Z",
            "10000-01-01",
        ] {
            let error = parse_time(text).unwrap_err().to_string();
            assert!(error.contains("four-digit year"), "{text}: {error}");
        }
        assert!(
            Query::parse("0.1.2.3", Some("-316-11-20 14:00 UTC")).is_err(),
            "the separate time too"
        );
        assert_eq!(
            ok("10.1.2.3 @ 0001-01-01").to_string(),
            "10.1.2.3 @ 0001-01-01 00:00:00 UTC"
        );
    }

    #[test]
    fn an_ip_at_a_time_in_every_form() {
        let expected = at("2026-11-20T14:00:00Z");
        for text in [
            "10.1.2.3 @ 2026-11-20 14:00",
            "10.1.2.3@2026-11-20T14:00:00Z",
            "10.1.2.3 @ 2026-11-20T14:00:00.000Z",
            "10.1.2.3 @ 2026-11-20 14:00:00 UTC",
            "10.1.2.3 @ 2026-11-20T15:00:00+01:00",
            "10.1.2.3 @ 2026-11-20T09:00-05:00",
        ] {
            assert_eq!(ok(text).at(), Some(expected), "{text}");
            assert_eq!(ok(text).kind(), "ip_at_time");
        }
        assert_eq!(
            ok("10.1.2.3 @ 2026-11-20").at(),
            Some(at("2026-11-20T00:00:00Z")),
            "a date is its midnight, UTC"
        );
        assert_eq!(
            Query::parse("10.1.2.3", Some("2026-11-20 14:00"))
                .unwrap()
                .at(),
            Some(expected),
            "the time may come separately"
        );
        assert_eq!(ok("10.1.0.0/16 @ 2026-11-20 14:00").kind(), "cidr_at_time");
        assert_eq!(
            ok("10.1.2.3 @ 2026-11-20 14:00").to_string(),
            "10.1.2.3 @ 2026-11-20 14:00:00 UTC"
        );
    }

    #[test]
    fn times_without_a_zone_are_utc_and_say_so() {
        let local = parse_time("2026-11-20 14:00").unwrap();
        assert!(!local.zoned);
        assert_eq!(local.time, at("2026-11-20T14:00:00Z"));
        assert!(parse_time("2026-11-20T14:00:00Z").unwrap().zoned);
        assert!(parse_time("2026-11-20T14:00:00+02:00").unwrap().zoned);
        assert_eq!(
            parse_time("2026-11-20T14:00:00.123456789Z").unwrap().time,
            at("2026-11-20T14:00:00.123456789Z")
        );
    }

    #[test]
    fn every_bad_input_gets_its_own_explanation() {
        let cases: &[(&str, &[&str])] = &[
            ("", &["the search is empty", "CIDR range"]),
            ("   ", &["the search is empty"]),
            (
                "10.1.2",
                &["not a complete IPv4 address", "3 of the 4", "10.1.2.0/24"],
            ),
            ("10", &[]), // a host name prefix, see below
            ("300.1.1.1", &["300 is greater than 255"]),
            ("10.1.2.3.4", &["has 5 numbers"]),
            ("10..2.3", &["a number is missing"]),
            ("10.01.2.3", &["leading zero"]),
            (
                "10.0.0.0/33",
                &["prefix length 33 is out of range", "IPv4 allows /0 to /32"],
            ),
            ("2001:db8::/129", &["IPv6 allows /0 to /128"]),
            ("10.0.0.0/99999999999", &["out of range"]),
            ("10.0.0.0/", &["after the / comes a prefix length"]),
            ("10.0.0.0/abc", &["a number from 0 to 32 for IPv4"]),
            ("10.0.0/8", &["'10.0.0' before the / is not an IP address"]),
            ("web01/24", &["before the / is not an IP address"]),
            ("10.1.2.*", &["wildcards are not accepted", "10.1.2.0/24"]),
            ("2001:db8:::1", &["neither an IPv6 address", "MAC address"]),
            ("aa:bb:cc:dd:ee", &["neither an IPv6 address"]),
            ("fe80::1%eth0", &["zone id", "search for 'fe80::1'"]),
            ("web 01", &["a space cannot appear in a host name"]),
            ("web01;drop", &["';' cannot appear"]),
            ("wéb", &["'é' cannot appear"]),
            (
                "10.1.2.3 @ yesterday",
                &["'yesterday' is not a time", "2026-11-20T14:00:00Z", "UTC"],
            ),
            (
                "10.1.2.3 @ 2026-13-01 10:00",
                &["'2026-13-01 10:00' is not a time", "out of range"],
            ),
            ("10.1.2.3 @ 2026-11-20 14:00 junk", &["is not a time"]),
            ("10.1.2.3 @", &["a time is missing after the @"]),
            ("@ 2026-11-20 14:00", &["the search is empty"]),
            (
                "web01 @ 2026-11-20 14:00",
                &["does not apply to the host name 'web01'"],
            ),
            (
                "aa:bb:cc:dd:ee:ff @ 2026-11-20",
                &["does not apply to the MAC address"],
            ),
        ];
        for (text, needles) in cases {
            if needles.is_empty() {
                continue;
            }
            let message = err(text);
            for needle in *needles {
                assert!(
                    message.contains(needle),
                    "{text:?}: {message:?} lacks {needle:?}"
                );
            }
            assert!(
                !message.ends_with('.'),
                "messages have no trailing period: {message}"
            );
        }
        assert_eq!(ok("10").kind(), "hostname");
        let long = "a".repeat(10 * 1024);
        assert!(err(&long).contains("10240 characters long; at most 300"));
        assert!(
            Query::parse("10.1.2.3 @ 2026-11-20", Some("2026-11-21"))
                .unwrap_err()
                .to_string()
                .contains("given twice")
        );
        assert_eq!(
            Query::parse("10.1.2.3", Some("someday")).unwrap_err(),
            QueryError::Time {
                text: "someday".to_owned(),
                reason: "it does not match a date and time".to_owned()
            }
        );
    }

    #[test]
    fn notes_say_how_the_text_was_read() {
        let (_, notes) = Query::parse_explained("10.1.2.3 @ 2026-11-20 14:00", None).unwrap();
        assert_eq!(
            notes,
            ["the time has no zone, so it is read as UTC: 2026-11-20 14:00:00 UTC"]
        );
        let (_, notes) = Query::parse_explained("10.1.2.3 @ 2026-11-20T14:00Z", None).unwrap();
        assert!(notes.is_empty());
        let (_, notes) = Query::parse_explained("10.1.2.77/24", None).unwrap();
        assert_eq!(
            notes,
            ["10.1.2.77/24 has host bits set; searching its network 10.1.2.0/24"]
        );
        let (_, notes) = Query::parse_explained("10.1.2.0/24", None).unwrap();
        assert!(notes.is_empty());
    }

    #[test]
    fn queries_serialize_with_kind_value_and_time() {
        let json = serde_json::to_value(ok("10.1.2.3 @ 2026-11-20 14:00")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "ip_at_time", "value": "10.1.2.3", "at": "2026-11-20T14:00:00.000Z"})
        );
    }
}
