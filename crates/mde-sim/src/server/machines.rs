//! `/api/machines` and the per-machine endpoints.

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::odata::{self, EntitySpec, FVal, FieldType, Record};
use super::{Ctx, Reply};
use crate::faults::FaultKind;
use crate::format::{self, Obj};
use crate::tenant::{Device, Tenant};

pub(crate) const MACHINE_PROPERTIES: &[&str] = &[
    "id",
    "mergedIntoMachineId",
    "isPotentialDuplication",
    "isExcluded",
    "exclusionReason",
    "computerDnsName",
    "firstSeen",
    "lastSeen",
    "osPlatform",
    "osVersion",
    "osProcessor",
    "version",
    "lastIpAddress",
    "lastExternalIpAddress",
    "agentVersion",
    "osBuild",
    "healthStatus",
    "deviceValue",
    "rbacGroupId",
    "rbacGroupName",
    "riskScore",
    "exposureLevel",
    "isAadJoined",
    "aadDeviceId",
    "machineTags",
    "defenderAvStatus",
    "onboardingStatus",
    "osArchitecture",
    "managedBy",
    "managedByStatus",
    "ipAddresses",
    "vmMetadata",
];

pub(crate) const MACHINE_SPEC: EntitySpec = EntitySpec {
    type_name: "microsoft.windowsDefenderATP.api.PublicMachine",
    filterable: &[
        ("computerDnsName", FieldType::Str),
        ("id", FieldType::Str),
        ("version", FieldType::Str),
        ("deviceValue", FieldType::Str),
        ("aadDeviceId", FieldType::Str),
        ("machineTags", FieldType::StrList),
        ("lastSeen", FieldType::DateTime),
        ("exposureLevel", FieldType::Str),
        ("onboardingStatus", FieldType::Str),
        ("lastIpAddress", FieldType::Str),
        ("healthStatus", FieldType::Str),
        ("osPlatform", FieldType::Str),
        ("riskScore", FieldType::Str),
        ("rbacGroupId", FieldType::Number),
    ],
    properties: MACHINE_PROPERTIES,
    expandable: &[],
};

fn opt(value: Option<&str>) -> FVal {
    value.map_or(FVal::Null, |value| FVal::Str(value.to_owned()))
}

impl Record for &Device {
    fn get(&self, property: &str) -> FVal {
        match property {
            "id" => FVal::Str(self.id.clone()),
            "mergedIntoMachineId" => opt(self.merged_into_machine_id.as_deref()),
            "isPotentialDuplication" => FVal::Bool(self.is_potential_duplication),
            "isExcluded" => FVal::Bool(self.is_excluded),
            "computerDnsName" => FVal::Str(self.computer_dns_name.clone()),
            "firstSeen" => FVal::Time(self.first_seen),
            "lastSeen" => FVal::Time(self.last_seen),
            "osPlatform" => FVal::Str(self.os_platform.to_owned()),
            "osVersion" => opt(self.os_version),
            "version" => opt(self.version),
            "lastIpAddress" => self
                .last_ip_address()
                .map_or(FVal::Null, |ip| FVal::Str(ip.to_string())),
            "lastExternalIpAddress" => self
                .last_external_ip_address
                .map_or(FVal::Null, |ip| FVal::Str(ip.to_string())),
            "agentVersion" => opt(self.agent_version),
            "osBuild" => self
                .os_build
                .map_or(FVal::Null, |build| FVal::Num(build as f64)),
            "healthStatus" => FVal::Str(self.health_status.to_owned()),
            "deviceValue" => opt(self.device_value),
            "rbacGroupId" => FVal::Num(self.rbac_group_id as f64),
            "rbacGroupName" => opt(self.rbac_group_name),
            "riskScore" => opt(self.risk_score),
            "exposureLevel" => opt(self.exposure_level),
            "isAadJoined" => FVal::Bool(self.is_aad_joined),
            "aadDeviceId" => opt(self.aad_device_id.as_deref()),
            "machineTags" => FVal::List(self.machine_tags.clone()),
            "onboardingStatus" => FVal::Str(self.onboarding_status.to_owned()),
            "osArchitecture" => FVal::Str(self.os_architecture.to_owned()),
            _ => FVal::Null,
        }
    }
}

/// The `ipAddresses` array: each adapter's addresses, then loopback.
fn ip_addresses(device: &Device) -> String {
    let entry = |ip: &str, mac: Option<&str>, kind: &str, status: &str| {
        let mut obj = Obj::new();
        obj.str("ipAddress", ip)
            .opt_str("macAddress", mac)
            .str("type", kind)
            .str("operationalStatus", status);
        obj.finish()
    };
    let mut items = Vec::new();
    for adapter in &device.adapters {
        let mac = Some(adapter.mac.as_str());
        let current = adapter
            .leases
            .last()
            .filter(|lease| lease.end.is_none() || !device.is_reporting())
            .map(|lease| lease.ip);
        if let Some(ip) = current {
            items.push(entry(
                &ip.to_string(),
                mac,
                adapter.adapter_type,
                adapter.status,
            ));
        } else if let Some(apipa) = adapter.apipa {
            items.push(entry(
                &apipa.to_string(),
                mac,
                adapter.adapter_type,
                adapter.status,
            ));
        }
        if let Some(global) = adapter.ipv6_global {
            items.push(entry(
                &global.to_string(),
                mac,
                adapter.adapter_type,
                adapter.status,
            ));
        }
        items.push(entry(
            &adapter.ipv6_link_local.to_string(),
            mac,
            adapter.adapter_type,
            adapter.status,
        ));
    }
    if device.class != crate::tenant::DeviceClass::Mobile {
        items.push(entry("127.0.0.1", None, "SoftwareLoopback", "Up"));
        items.push(entry("::1", None, "SoftwareLoopback", "Up"));
    }
    format::array(&items)
}

/// A machine as the service prints it (docs/defender-api.md#devices, 32 properties in order).
pub(crate) fn machine_json(
    device: &Device,
    keep: Option<&dyn Fn(&str) -> bool>,
    context: Option<&str>,
) -> String {
    let mut obj = Obj::selecting(keep);
    if let Some(context) = context {
        obj.str("@odata.context", context);
    }
    obj.str("id", &device.id)
        .opt_str(
            "mergedIntoMachineId",
            device.merged_into_machine_id.as_deref(),
        )
        .bool("isPotentialDuplication", device.is_potential_duplication)
        .bool("isExcluded", device.is_excluded)
        .opt_str("exclusionReason", device.exclusion_reason)
        .str("computerDnsName", &device.computer_dns_name)
        .time("firstSeen", device.first_seen)
        .time("lastSeen", device.last_seen)
        .str("osPlatform", device.os_platform)
        .opt_str("osVersion", device.os_version)
        .str("osProcessor", device.os_processor)
        .opt_str("version", device.version)
        .opt_str(
            "lastIpAddress",
            device.last_ip_address().map(|ip| ip.to_string()).as_deref(),
        )
        .opt_str(
            "lastExternalIpAddress",
            device
                .last_external_ip_address
                .map(|ip| ip.to_string())
                .as_deref(),
        )
        .opt_str("agentVersion", device.agent_version)
        .opt_int("osBuild", device.os_build)
        .str("healthStatus", device.health_status)
        .opt_str("deviceValue", device.device_value)
        .int("rbacGroupId", device.rbac_group_id)
        .opt_str("rbacGroupName", device.rbac_group_name)
        .opt_str("riskScore", device.risk_score)
        .opt_str("exposureLevel", device.exposure_level)
        .bool("isAadJoined", device.is_aad_joined)
        .opt_str("aadDeviceId", device.aad_device_id.as_deref())
        .strs("machineTags", &device.machine_tags)
        .opt_str("defenderAvStatus", device.defender_av_status)
        .str("onboardingStatus", device.onboarding_status)
        .str("osArchitecture", device.os_architecture)
        .str("managedBy", device.managed_by)
        .str("managedByStatus", device.managed_by_status)
        .raw("ipAddresses", &ip_addresses(device));
    match &device.vm_metadata {
        Some(vm) => {
            let mut inner = Obj::new();
            inner
                .str("vmId", &vm.vm_id)
                .str("cloudProvider", vm.cloud_provider)
                .str("resourceId", &vm.resource_id)
                .str("subscriptionId", &vm.subscription_id);
            obj.raw("vmMetadata", &inner.finish());
        }
        None => {
            obj.raw("vmMetadata", "null");
        }
    }
    obj.finish()
}

/// `{"@odata.context":…, ["@odata.count":…,] "value":[…] [, "@odata.nextLink":…]}`.
pub(crate) fn collection(
    context: &str,
    count: Option<usize>,
    items: &[String],
    next_link: Option<&str>,
) -> String {
    let mut obj = Obj::new();
    obj.str("@odata.context", context);
    if let Some(count) = count {
        obj.int("@odata.count", count as i64);
    }
    obj.raw("value", &format::array(items));
    if let Some(next_link) = next_link {
        obj.str("@odata.nextLink", next_link);
    }
    obj.finish()
}

/// Applies a shuffle fault to a page's source order.
pub(crate) fn maybe_shuffle<T>(ctx: &Ctx<'_>, items: &mut [T]) {
    if ctx.fault(FaultKind::ShufflePages).is_some() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(ctx.shared.faults.shuffle_seed());
        items.shuffle(&mut rng);
    }
}

pub(crate) fn list(ctx: &Ctx<'_>, segments: &[String]) -> Reply {
    let shared = ctx.shared;
    let max_page = shared.config.max_page_size;
    let query = match odata::parse_query(&ctx.query, &MACHINE_SPEC, max_page) {
        Ok(query) => query,
        Err(message) => return Reply::odata_error(&message),
    };
    let tenant = shared.tenant.read().expect("tenant lock poisoned");
    let mut matches: Vec<&Device> = shown_devices(ctx, &tenant)
        .into_iter()
        .filter(|device| {
            query
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(device))
        })
        .collect();
    if segments.len() == 2 {
        // `/api/machines/$count` answers a bare number.
        return Reply {
            status: 200,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: matches.len().to_string(),
        };
    }
    if ctx.fault(FaultKind::EmptyPage).is_some() {
        return empty_page(&ctx.context("Machines"), query.count);
    }
    if matches.is_empty() && shared.config.quirks.empty_machine_list_404 {
        return Reply::mde_error(404, "NotFound", "No machines found");
    }
    odata::order(&mut matches, &query.orderby);
    maybe_shuffle(ctx, &mut matches);
    let link_base = format!("{}{}", ctx.base, ctx.path);
    let page = odata::page(
        matches.len(),
        &query,
        shared.config.paging,
        max_page,
        &link_base,
        &ctx.query,
    );
    let drop_onboarding = shared.config.quirks.select_drops_onboarding_status;
    let keep = |property: &str| odata::keeps(query.select.as_deref(), property, drop_onboarding);
    let keep_ref: Option<&dyn Fn(&str) -> bool> = query
        .select
        .as_ref()
        .map(|_| &keep as &dyn Fn(&str) -> bool);
    let items: Vec<String> = matches[page.start..page.end]
        .iter()
        .map(|device| machine_json(device, keep_ref, None))
        .collect();
    let count = query.count.then_some(matches.len());
    Reply::odata(collection(
        &ctx.context("Machines"),
        count,
        &items,
        page.next_link.as_deref(),
    ))
}

/// The devices the listing shows: every listed one, or the part a shrink leaves
/// ([`crate::Faults::shrink_machines`]), in listing order.
fn shown_devices<'t>(ctx: &Ctx<'_>, tenant: &'t Tenant) -> Vec<&'t Device> {
    let listed: Vec<&Device> = tenant.listed_devices().collect();
    let faults = &ctx.shared.faults;
    let Some(shown) = faults.machines_shrink() else {
        return listed;
    };
    let ids: Vec<&str> = listed.iter().map(|device| device.id.as_str()).collect();
    let kept = crate::faults::pick(&ids, shown, faults.seed(), "shrink-machines");
    listed
        .into_iter()
        .zip(kept)
        .filter_map(|(device, kept)| kept.then_some(device))
        .collect()
}

/// The `empty-page` fault's answer: `{"@odata.context":…, "value":[]}`, with
/// `"@odata.count": 0` when the query asked for a count.
pub(crate) fn empty_page(context: &str, count: bool) -> Reply {
    Reply::odata(collection(context, count.then_some(0), &[], None))
}

pub(crate) fn not_found(ctx: &Ctx<'_>, id: &str) -> Reply {
    let _ = ctx;
    Reply::mde_error(
        404,
        "ResourceNotFound",
        &format!("Machine {id} was not found"),
    )
}

/// The intermittent 404 (target `|…`; docs/defender-api.md#errors-and-throttling).
pub(crate) fn flaky_404(ctx: &Ctx<'_>, id: &str) -> Option<Reply> {
    ctx.fault(FaultKind::Intermittent404).map(|_| {
        let target = format!("|{}.", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        Reply::mde_error_target(
            404,
            "ResourceNotFound",
            &format!("Machine {id} was not found"),
            &target,
        )
    })
}

pub(crate) fn single(ctx: &Ctx<'_>, id: &str) -> Reply {
    if let Some(reply) = flaky_404(ctx, id) {
        return reply;
    }
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    match tenant.lookup(id) {
        Some(device) => Reply::odata(machine_json(
            device,
            None,
            Some(&ctx.context("Machines/$entity")),
        )),
        None => not_found(ctx, id),
    }
}

fn user_json(tenant: &Tenant, device: &Device, user: &crate::tenant::DeviceUser) -> String {
    let (account_name, account_domain, _sid) = tenant.account_of(device, user);
    let domain_user = user.user.map(|idx| &tenant.users[idx as usize]);
    let mut obj = Obj::new();
    obj.str(
        "id",
        &format!("{}\\{}", account_domain.to_ascii_lowercase(), account_name),
    )
    .str("accountName", &account_name)
    .str("accountDomain", &account_domain)
    .raw("accountSid", "null")
    .str("firstSeen", &format::timestamp_seconds(user.first_seen))
    .str("lastSeen", &format::timestamp_seconds(user.last_seen))
    .raw("mostPrevalentMachineId", "null")
    .raw("leastPrevalentMachineId", "null")
    .str("logonTypes", user.logon_types)
    .int(
        "logOnMachinesCount",
        user.user.map_or(1, |idx| tenant.machine_count_of(idx)) as i64,
    )
    .bool(
        "isDomainAdmin",
        domain_user.is_some_and(|user| user.is_domain_admin),
    )
    .opt_bool(
        "isOnlyNetworkUser",
        domain_user.map_or(Some(false), |user| user.is_only_network_user),
    );
    obj.finish()
}

pub(crate) fn logon_users(ctx: &Ctx<'_>, id: &str) -> Reply {
    if let Some(reply) = flaky_404(ctx, id) {
        return reply;
    }
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let Some(device) = tenant.lookup(id) else {
        return not_found(ctx, id);
    };
    let items: Vec<String> = device
        .logon_users
        .iter()
        .map(|user| user_json(&tenant, device, user))
        .collect();
    Reply::odata(collection(&ctx.context("Users"), None, &items, None))
}

/// Parses `findbyip(ip='10.1.2.3',timestamp=2024-05-01T10:00:00Z)`.
fn parse_find_by_ip(segment: &str) -> Option<(String, String)> {
    let inner = segment.get(segment.find('(')? + 1..segment.rfind(')')?)?;
    let mut ip = None;
    let mut timestamp = None;
    for part in inner.split(',') {
        let (key, value) = part.split_once('=')?;
        let value = value.trim().trim_matches('\'').to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "ip" => ip = Some(value),
            "timestamp" => timestamp = Some(value),
            _ => return None,
        }
    }
    Some((ip?, timestamp?))
}

/// `GET /api/machines/findbyip(ip='…',timestamp=…)`: devices seen with the IP within ±15 min.
pub(crate) fn find_by_ip(ctx: &Ctx<'_>, segment: &str) -> Reply {
    let Some((ip, timestamp)) = parse_find_by_ip(segment) else {
        return Reply::mde_error(
            400,
            "InvalidInput",
            "Expected findbyip(ip='{IP}',timestamp={ISO 8601 time})",
        );
    };
    let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
        return Reply::mde_error(
            400,
            "InvalidIpAddress",
            &format!("Invalid IP address: {ip}"),
        );
    };
    let Ok(time) = DateTime::parse_from_rfc3339(&timestamp).map(|time| time.with_timezone(&Utc))
    else {
        return Reply::mde_error(
            400,
            "InvalidInput",
            &format!("Invalid timestamp: {timestamp}"),
        );
    };
    if time < ctx.now - Duration::days(crate::tenant::HISTORY_DAYS) || time > ctx.now {
        return Reply::mde_error(
            400,
            "InvalidInput",
            "The timestamp must be within the last 30 days.",
        );
    }
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let window = Duration::minutes(15);
    let items: Vec<String> = tenant
        .listed_devices()
        .filter(|device| {
            device.adapters.iter().any(|adapter| {
                adapter.leases.iter().any(|lease| {
                    lease.ip == ip
                        && lease.start <= time + window
                        && lease.end.is_none_or(|end| end >= time - window)
                })
            })
        })
        .map(|device| machine_json(device, None, None))
        .collect();
    Reply::odata(collection(&ctx.context("Machines"), None, &items, None))
}

/// `GET /api/machines/findbytag?tag=…&useStartsWithFilter=…`: devices carrying the tag (or,
/// with `useStartsWithFilter=true`, a tag that starts with it), compared case-insensitively.
pub(crate) fn find_by_tag(ctx: &Ctx<'_>) -> Reply {
    let param = |name: &str| {
        ctx.query
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let Some(tag) = param("tag").filter(|tag| !tag.is_empty()) else {
        return Reply::mde_error(
            400,
            "MissingRequiredParameter",
            "The 'tag' parameter is required.",
        );
    };
    let starts_with = match param("useStartsWithFilter").map(str::to_ascii_lowercase) {
        None => false,
        Some(flag) if flag == "true" => true,
        Some(flag) if flag == "false" => false,
        Some(flag) => {
            return Reply::mde_error(
                400,
                "InvalidInput",
                &format!("useStartsWithFilter must be true or false, not '{flag}'."),
            );
        }
    };
    let wanted = tag.to_lowercase();
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let items: Vec<String> = tenant
        .listed_devices()
        .filter(|device| {
            device.machine_tags.iter().any(|held| {
                let held = held.to_lowercase();
                if starts_with {
                    held.starts_with(&wanted)
                } else {
                    held == wanted
                }
            })
        })
        .map(|device| machine_json(device, None, None))
        .collect();
    Reply::odata(collection(&ctx.context("Machines"), None, &items, None))
}
