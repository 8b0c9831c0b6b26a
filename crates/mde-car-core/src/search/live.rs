//! "Confirm with Defender": asks `findbyip` which devices had an address around a time, and
//! compares its answer with what the local IP history says for the same moment.
//!
//! Defender answers for the 15 minutes around the time and at most 30 days back; the local
//! history answers for the exact moment from lease intervals, so near a hand-over the two may
//! name different devices, and the summary says so rather than hiding it.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use serde::Serialize;

use super::{
    ConnectionRef, Query, Result, SearchError, SortKey, blocking, find_connection,
    hits::{Page, search_in},
};
use crate::{config::Connection, mde::MdeClient, model::Timestamp, store::Store};

/// How far back `findbyip` answers.
pub const LIVE_WINDOW_DAYS: i64 = 30;

/// A device Defender named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct LiveDevice {
    pub device_id: String,
    pub name: Option<String>,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub last_seen: Option<Timestamp>,
    /// mde-car's asset number when the store has the device.
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub asset_id: Option<i64>,
}

/// Defender's live answer next to the local one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    pub connection: ConnectionRef,
    pub address: String,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub at: Timestamp,
    /// What `findbyip` answered.
    pub live: Vec<LiveDevice>,
    /// The Defender device ids the local history names for the same address and moment.
    pub local: Vec<String>,
    /// The same set of devices on both sides.
    pub agrees: bool,
    /// One sentence for the analyst.
    pub summary: String,
}

/// A live check as asked, read and checked: which connection, which address, which moment.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    /// The connection whose tenant is asked.
    pub connection: Connection,
    target: ConnectionRef,
    ip: std::net::IpAddr,
    at: Timestamp,
}

/// Reads "who had `address` at `at`" for `connection` (name or id), refusing what Defender
/// cannot answer (no time, a range, a time outside the last 30 days) before any call.
pub fn live_request(
    connections: &[Connection],
    connection: &str,
    address: &str,
    at: &str,
) -> Result<LiveRequest> {
    let (ip, at) = match Query::parse(address, Some(at))? {
        Query::Address { ip, at: Some(at) } => (ip, at),
        Query::Address { at: None, .. } => return Err(SearchError::LiveCheckNeedsTime),
        other => {
            return Err(SearchError::NotAnAddress {
                text: address.trim().to_owned(),
                kind: other.kind_phrase(),
            });
        }
    };
    let now = Utc::now();
    if at < now - Duration::days(LIVE_WINDOW_DAYS) || at > now + Duration::minutes(15) {
        return Err(SearchError::OutsideLiveWindow {
            at: super::format_time(at),
        });
    }
    let target = find_connection(connections, connection)?;
    let record = connections
        .iter()
        .find(|c| c.id == target.id)
        .cloned()
        .ok_or_else(|| SearchError::ConnectionNotFound(connection.to_owned()))?;
    Ok(LiveRequest {
        connection: record,
        target,
        ip,
        at,
    })
}

/// Asks Defender (`findbyip`, through the connection's `client`) and the local history the
/// same question, and compares the answers.
pub async fn confirm_attribution(
    store: &Store,
    connections: &[Connection],
    client: &MdeClient,
    request: LiveRequest,
) -> Result<Attribution> {
    let LiveRequest {
        connection: record,
        target,
        ip,
        at,
    } = request;
    let devices = client
        .find_by_ip(ip, at)
        .await
        .map_err(|source| SearchError::Defender {
            connection: record.name.clone(),
            source,
        })?;

    let store = store.clone();
    let names = super::connection_names(connections);
    let filter = target.clone();
    let local = blocking(move || {
        store.read(|db| {
            search_in(
                db,
                Query::Address { ip, at: Some(at) },
                Vec::new(),
                Some(&filter),
                Page {
                    sort: SortKey::Relevance,
                    reverse: false,
                    offset: 0,
                    limit: super::MAX_LIMIT,
                },
                &names,
            )
        })
    })
    .await?;
    let local_ids: Vec<String> = local.hits.iter().map(|h| h.device_id.clone()).collect();
    let asset_of = |device_id: &str| {
        local
            .hits
            .iter()
            .find(|h| h.device_id.eq_ignore_ascii_case(device_id))
            .map(|h| h.asset_id)
    };
    let live: Vec<LiveDevice> = devices
        .into_iter()
        .map(|device| LiveDevice {
            asset_id: asset_of(&device.id),
            device_id: device.id,
            name: device.computer_dns_name,
            last_seen: device.last_seen,
        })
        .collect();
    let live_set: BTreeSet<String> = live.iter().map(|d| d.device_id.to_lowercase()).collect();
    let local_set: BTreeSet<String> = local_ids.iter().map(|d| d.to_lowercase()).collect();
    let agrees = live_set == local_set;
    let summary = summarize(&live, &local_set, &live_set, agrees);
    Ok(Attribution {
        connection: target,
        address: ip.to_string(),
        at,
        live,
        local: local_ids,
        agrees,
        summary,
    })
}

fn summarize(
    live: &[LiveDevice],
    local: &BTreeSet<String>,
    live_set: &BTreeSet<String>,
    agrees: bool,
) -> String {
    let named = |d: &LiveDevice| d.name.clone().unwrap_or_else(|| d.device_id.clone());
    match (live.len(), agrees) {
        (0, true) => "Defender knows no device with this address within 15 minutes of that time, \
                      and neither does the local history"
            .to_owned(),
        (0, false) => format!(
            "Defender knows no device with this address within 15 minutes of that time, but the \
             local history names {}; the device may have reported late, or the address changed \
             hands near that moment",
            plural(local.len(), "device")
        ),
        (1, true) => format!("Defender confirms {}", named(&live[0])),
        (_, true) => format!(
            "Defender confirms the same {} devices: {}",
            live.len(),
            live.iter().map(named).collect::<Vec<_>>().join(", ")
        ),
        (_, false) => {
            let unknown = live_set.difference(local).count();
            let missing = local.difference(live_set).count();
            format!(
                "Defender names {}: {}; {} not in the local answer and {} local only. Defender \
                 looks 15 minutes either side of the time: near a hand-over both can be right, \
                 and a sync brings the local history up to date",
                plural(live.len(), "device"),
                live.iter().map(named).collect::<Vec<_>>().join(", "),
                unknown,
                missing
            )
        }
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
