//! Vulnerability endpoints: the CVE catalog, the flat machine × CVE list, one machine's CVEs,
//! the full per-device export and the delta export (docs/defender-api.md#vulnerability-exports).

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::machines::{self, collection};
use super::odata::{self, EntitySpec, FVal, FieldType, Record};
use super::{Ctx, Reply};
use crate::faults::{ExportRows, RowFate};
use crate::format::{self, Obj};
use crate::tenant::{Cve, Device, Tenant, VulnInstance};

/// `$top` limit of `/api/vulnerabilities` (8,000, lower than elsewhere).
const CATALOG_MAX_TOP: usize = 8_000;
/// Export `pageSize` default and maximum.
const EXPORT_DEFAULT_PAGE: usize = 50_000;
const EXPORT_MAX_PAGE: usize = 200_000;
/// How far back the delta export reaches.
const DELTA_MAX_DAYS: i64 = 14;

const CATALOG_PROPERTIES: &[&str] = &[
    "id",
    "name",
    "description",
    "severity",
    "cvssV3",
    "cvssVector",
    "exposedMachines",
    "publishedOn",
    "updatedOn",
    "publicExploit",
    "exploitVerified",
    "exploitInKit",
    "exploitTypes",
    "exploitUris",
    "CveSupportability",
    "epss",
];

const CATALOG_SPEC: EntitySpec = EntitySpec {
    type_name: "microsoft.windowsDefenderATP.api.PublicVulnerabilityDto",
    filterable: &[
        ("id", FieldType::Str),
        ("name", FieldType::Str),
        ("description", FieldType::Str),
        ("cvssV3", FieldType::Number),
        ("publishedOn", FieldType::DateTime),
        ("severity", FieldType::Str),
        ("updatedOn", FieldType::DateTime),
    ],
    properties: CATALOG_PROPERTIES,
    expandable: &[],
};

const MV_PROPERTIES: &[&str] = &[
    "id",
    "cveId",
    "machineId",
    "fixingKbId",
    "productName",
    "productVendor",
    "productVersion",
    "severity",
];

const MV_SPEC: EntitySpec = EntitySpec {
    type_name: "microsoft.windowsDefenderATP.api.PublicAssetVulnerabilityDto",
    filterable: &[
        ("id", FieldType::Str),
        ("cveId", FieldType::Str),
        ("machineId", FieldType::Str),
        ("fixingKbId", FieldType::Str),
        ("productName", FieldType::Str),
        ("productVersion", FieldType::Str),
        ("severity", FieldType::Str),
        ("productVendor", FieldType::Str),
    ],
    properties: MV_PROPERTIES,
    expandable: &[],
};

struct CatalogRow<'a> {
    cve: &'a Cve,
    exposed: usize,
}

impl Record for CatalogRow<'_> {
    fn get(&self, property: &str) -> FVal {
        match property {
            "id" | "name" => FVal::Str(self.cve.id.clone()),
            "description" => FVal::Str(self.cve.description.clone()),
            "cvssV3" => FVal::Num(self.cve.cvss_v3),
            "publishedOn" => FVal::Time(self.cve.published_on),
            "updatedOn" => FVal::Time(self.cve.updated_on),
            "severity" => FVal::Str(self.cve.severity.to_owned()),
            "exposedMachines" => FVal::Num(self.exposed as f64),
            _ => FVal::Null,
        }
    }
}

fn vulnerability_json(cve: &Cve, exposed: usize) -> String {
    let public = cve.exploitability != "NoExploit";
    let mut obj = Obj::new();
    obj.str("id", &cve.id)
        .str("name", &cve.name)
        .str("description", &cve.description)
        .str("severity", cve.severity)
        .float("cvssV3", cve.cvss_v3)
        .str("cvssVector", &cve.cvss_vector)
        .int("exposedMachines", exposed as i64)
        .time("publishedOn", cve.published_on)
        .time("updatedOn", cve.updated_on)
        .bool("publicExploit", public)
        .bool(
            "exploitVerified",
            matches!(cve.exploitability, "ExploitIsVerified" | "ExploitIsInKit"),
        )
        .bool("exploitInKit", cve.exploitability == "ExploitIsInKit")
        .strs(
            "exploitTypes",
            if public {
                &["RemoteCodeExecution"][..]
            } else {
                &[][..]
            },
        )
        .strs("exploitUris", &[] as &[&str])
        .str("CveSupportability", "Supported")
        .float("epss", cve.epss);
    obj.finish()
}

fn exposed_counts(tenant: &Tenant) -> Vec<usize> {
    let mut counts = vec![0usize; tenant.cves.len()];
    for device in tenant.listed_devices() {
        let mut seen: Vec<u16> = device.current_vulns().map(|vuln| vuln.cve).collect();
        seen.sort_unstable();
        seen.dedup();
        for cve in seen {
            counts[usize::from(cve)] += 1;
        }
    }
    counts
}

/// `GET /api/vulnerabilities`.
pub(crate) fn catalog(ctx: &Ctx<'_>) -> Reply {
    let query = match odata::parse_query(&ctx.query, &CATALOG_SPEC, CATALOG_MAX_TOP) {
        Ok(query) => query,
        Err(message) => return Reply::odata_error(&message),
    };
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let exposed = exposed_counts(&tenant);
    let mut rows: Vec<CatalogRow<'_>> = tenant
        .cves
        .iter()
        .enumerate()
        .map(|(idx, cve)| CatalogRow {
            cve,
            exposed: exposed[idx],
        })
        .filter(|row| {
            query
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(row))
        })
        .collect();
    odata::order(&mut rows, &query.orderby);
    let link_base = format!("{}{}", ctx.base, ctx.path);
    let page = odata::page(
        rows.len(),
        &query,
        crate::config::PagingMode::GraphLike,
        CATALOG_MAX_TOP,
        &link_base,
        &ctx.query,
    );
    let items: Vec<String> = rows[page.start..page.end]
        .iter()
        .map(|row| vulnerability_json(row.cve, row.exposed))
        .collect();
    Reply::odata(collection(
        &ctx.context("Vulnerabilities"),
        query.count.then_some(rows.len()),
        &items,
        page.next_link.as_deref(),
    ))
}

/// One (device, CVE instance) pair of the flat list.
struct MvRow<'a> {
    tenant: &'a Tenant,
    device: &'a Device,
    vuln: &'a VulnInstance,
}

impl MvRow<'_> {
    fn cve(&self) -> &Cve {
        &self.tenant.cves[usize::from(self.vuln.cve)]
    }

    fn software(&self) -> &crate::tenant::Software {
        &self.tenant.software[usize::from(self.vuln.software)]
    }

    fn version(&self) -> &'static str {
        self.software().versions[usize::from(self.vuln.version)]
    }

    fn id(&self) -> String {
        let software = self.software();
        format!(
            "{}-_-{}-_-{}-_-{}-_-{}-_-{}",
            self.device.id,
            self.cve().id,
            software.vendor,
            software.name,
            self.version(),
            self.cve().fixing_kb.as_deref().unwrap_or("")
        )
    }
}

impl Record for MvRow<'_> {
    fn get(&self, property: &str) -> FVal {
        match property {
            "id" => FVal::Str(self.id()),
            "cveId" => FVal::Str(self.cve().id.clone()),
            "machineId" => FVal::Str(self.device.id.clone()),
            "fixingKbId" => self.cve().fixing_kb.clone().map_or(FVal::Null, FVal::Str),
            "productName" => FVal::Str(self.software().name.to_owned()),
            "productVendor" => FVal::Str(self.software().vendor.to_owned()),
            "productVersion" => FVal::Str(self.version().to_owned()),
            "severity" => FVal::Str(self.cve().severity.to_owned()),
            _ => FVal::Null,
        }
    }
}

fn mv_json(row: &MvRow<'_>, fate: RowFate) -> String {
    let software = row.software();
    let mut obj = Obj::new();
    obj.str("id", &row.id());
    if fate == RowFate::NoCve {
        obj.str("cveId", "");
    } else {
        obj.str("cveId", &row.cve().id);
    }
    if fate == RowFate::NoDevice {
        obj.raw("machineId", "null");
    } else {
        obj.str("machineId", &row.device.id);
    }
    obj.opt_str("fixingKbId", row.cve().fixing_kb.as_deref())
        .str("productName", software.name)
        .str("productVendor", software.vendor)
        .str("productVersion", row.version())
        .str("severity", row.cve().severity);
    obj.finish()
}

/// The rows' damage ([`crate::Faults::set_export_rows`]) and the seed that decides it.
struct Damage {
    rows: ExportRows,
    seed: u64,
}

impl Damage {
    fn of(ctx: &Ctx<'_>) -> Damage {
        Damage {
            rows: ctx.shared.faults.export_rows(),
            seed: ctx.shared.faults.seed(),
        }
    }

    /// The fate of the row whose id `id` gives (only computed when there is damage).
    fn fate(&self, id: impl FnOnce() -> String) -> RowFate {
        if self.rows.is_none() {
            RowFate::Keep
        } else {
            self.rows.fate(self.seed, &id())
        }
    }

    fn served(&self, id: impl FnOnce() -> String) -> bool {
        self.fate(id) != RowFate::Omit
    }
}

fn current_rows(tenant: &Tenant) -> impl Iterator<Item = MvRow<'_>> {
    tenant.listed_devices().flat_map(move |device| {
        device.current_vulns().map(move |vuln| MvRow {
            tenant,
            device,
            vuln,
        })
    })
}

/// `GET /api/vulnerabilities/machinesVulnerabilities`.
pub(crate) fn machines_vulnerabilities(ctx: &Ctx<'_>) -> Reply {
    let max_page = ctx.shared.config.max_page_size;
    let query = match odata::parse_query(&ctx.query, &MV_SPEC, max_page) {
        Ok(query) => query,
        Err(message) => return Reply::odata_error(&message),
    };
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let damage = Damage::of(ctx);
    let mut rows: Vec<MvRow<'_>> = current_rows(&tenant)
        .filter(|row| damage.served(|| row.id()))
        .filter(|row| {
            query
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(row))
        })
        .collect();
    odata::order(&mut rows, &query.orderby);
    machines::maybe_shuffle(ctx, &mut rows);
    let link_base = format!("{}{}", ctx.base, ctx.path);
    let page = odata::page(
        rows.len(),
        &query,
        crate::config::PagingMode::GraphLike,
        max_page,
        &link_base,
        &ctx.query,
    );
    let items: Vec<String> = rows[page.start..page.end]
        .iter()
        .map(|row| mv_json(row, damage.fate(|| row.id())))
        .collect();
    // An observed answer carried `"@odata.count": 0` next to rows
    // (docs/defender-api.md#vulnerability-exports).
    Reply::odata(collection(
        &ctx.context("Collection(microsoft.windowsDefenderATP.api.PublicAssetVulnerabilityDto)"),
        query.count.then_some(0),
        &items,
        page.next_link.as_deref(),
    ))
}

/// `GET /api/machines/{id}/vulnerabilities`.
pub(crate) fn of_machine(ctx: &Ctx<'_>, id: &str) -> Reply {
    if let Some(reply) = machines::flaky_404(ctx, id) {
        return reply;
    }
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let Some(device) = tenant.lookup(id) else {
        return machines::not_found(ctx, id);
    };
    let exposed = exposed_counts(&tenant);
    let mut cves: Vec<u16> = device.current_vulns().map(|vuln| vuln.cve).collect();
    cves.sort_unstable();
    cves.dedup();
    let items: Vec<String> = cves
        .iter()
        .map(|&cve| vulnerability_json(&tenant.cves[usize::from(cve)], exposed[usize::from(cve)]))
        .collect();
    Reply::odata(collection(
        &ctx.context("Collection(Analytics.Contracts.PublicAPI.PublicVulnerabilityDto)"),
        None,
        &items,
        None,
    ))
}

/// An export record's `id`: `{deviceId}_{softwareName}_{softwareVersion}_{cveId}_`.
fn export_id(row: &MvRow<'_>) -> String {
    format!(
        "{}_{}_{}_{}_",
        row.device.id,
        row.software().name,
        row.version(),
        row.cve().id
    )
}

/// The id [`ExportRows`] judges a delta event by: the record's id and its status.
fn delta_id(row: &MvRow<'_>, status: &str) -> String {
    format!("{}{status}", export_id(row))
}

fn export_record(row: &MvRow<'_>, delta: Option<(&str, DateTime<Utc>)>, fate: RowFate) -> String {
    let software = row.software();
    let cve = row.cve();
    let device = row.device;
    let windows = device.os_platform.starts_with("Windows");
    let mut obj = Obj::new();
    obj.str("id", &export_id(row));
    if fate == RowFate::NoDevice {
        obj.raw("deviceId", "null");
    } else {
        obj.str("deviceId", &device.id);
    }
    obj.opt_str("rbacGroupName", device.rbac_group_name)
    .str("deviceName", &device.computer_dns_name)
    .str("osPlatform", device.os_platform)
    .opt_str("osVersion", device.os_version.or(device.version))
    .str(
        "osArchitecture",
        if device.os_architecture == "32-bit" {
            "x86"
        } else {
            "x64"
        },
    )
    .str("softwareVendor", software.vendor)
    .str("softwareName", software.name)
    .str("softwareVersion", row.version())
    .str("cveId", if fate == RowFate::NoCve { "" } else { &cve.id })
    .str("vulnerabilitySeverityLevel", cve.severity)
    .opt_str(
        "recommendedSecurityUpdate",
        cve.fixing_kb
            .as_ref()
            .map(|_| format!("{} Security Updates", cve.updated_on.format("%B %Y")))
            .as_deref(),
    )
    .opt_str("recommendedSecurityUpdateId", cve.fixing_kb.as_deref())
    .opt_str(
        "recommendedSecurityUpdateUrl",
        cve.fixing_kb
            .as_ref()
            .map(|kb| format!("https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB{kb}"))
            .as_deref(),
    )
    .strs(
        "diskPaths",
        if software.disk_path.is_empty() {
            &[][..]
        } else {
            std::slice::from_ref(&software.disk_path)
        },
    )
    .strs(
        "registryPaths",
        &if windows && !software.disk_path.is_empty() {
            vec![format!(
                "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{}",
                software.name
            )]
        } else {
            Vec::new()
        },
    )
    .str(
        "lastSeenTimestamp",
        &format::timestamp_export(device.last_seen),
    )
    .str(
        "firstSeenTimestamp",
        &format::timestamp_export(row.vuln.first_seen),
    )
    .str("exploitabilityLevel", cve.exploitability)
    .str(
        "recommendationReference",
        &format!("va-_-{}-_-{}", software.vendor, software.name),
    )
    .bool(
        "securityUpdateAvailable",
        cve.fixed_in_version < software.versions.len() as u8,
    )
    .float("cvssScore", cve.cvss_v3);
    if let Some((status, time)) = delta {
        obj.str("status", status).time("eventTimestamp", time);
    }
    obj.finish()
}

/// The `$skiptoken` of the export endpoints: base64 of
/// `{"ExportDefinition":{"TimePath":"…"},"ExportFileIndex":0,"LineStoppedAt":N}`.
fn skiptoken(now: DateTime<Utc>, line: usize) -> String {
    let json = format!(
        r#"{{"ExportDefinition":{{"TimePath":"{}/{}/"}},"ExportFileIndex":0,"LineStoppedAt":{line}}}"#,
        now.format("%Y-%m-%d"),
        now.format("%H%M")
    );
    base64::engine::general_purpose::STANDARD.encode(json)
}

fn parse_skiptoken(token: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let json: Value = serde_json::from_slice(&bytes).ok()?;
    json.get("LineStoppedAt")?
        .as_u64()
        .map(|line| line as usize)
}

fn param<'a>(ctx: &'a Ctx<'_>, name: &str) -> Option<&'a str> {
    ctx.query
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Pages export records: `$top` = that many and no nextLink; otherwise `pageSize` pages with a
/// `$skiptoken` nextLink.
fn export_page(
    ctx: &Ctx<'_>,
    n_records: usize,
    context: &str,
    render: &dyn Fn(usize, usize) -> Vec<String>,
) -> Reply {
    let start = match param(ctx, "$skiptoken") {
        Some(token) => match parse_skiptoken(token) {
            Some(line) => line,
            None => return Reply::mde_error(400, "InvalidInput", "Invalid $skiptoken"),
        },
        None => 0,
    };
    if let Some(top) = param(ctx, "$top") {
        let Ok(top) = top.trim().parse::<usize>() else {
            return Reply::odata_error(&format!(
                "Invalid value '{top}' for $top query option found."
            ));
        };
        let end = (start + top).min(n_records);
        return Reply::odata(collection(
            context,
            None,
            &render(start.min(end), end),
            None,
        ));
    }
    let page_size = match param(ctx, "pageSize") {
        Some(size) => match size.trim().parse::<usize>() {
            Ok(size) if (1..=EXPORT_MAX_PAGE).contains(&size) => size,
            _ => {
                return Reply::mde_error(
                    400,
                    "InvalidInput",
                    &format!("pageSize must be between 1 and {EXPORT_MAX_PAGE}"),
                );
            }
        },
        None => EXPORT_DEFAULT_PAGE,
    };
    let start = start.min(n_records);
    let end = (start + page_size).min(n_records);
    let next_link = (end < n_records).then(|| {
        let mut params: Vec<String> = ctx
            .query
            .iter()
            .filter(|(key, _)| !key.eq_ignore_ascii_case("$skiptoken"))
            .map(|(key, value)| {
                format!(
                    "{key}={}",
                    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
                )
            })
            .collect();
        if !params
            .iter()
            .any(|param| param.to_ascii_lowercase().starts_with("pagesize="))
        {
            params.push(format!("pagesize={page_size}"));
        }
        let token: String =
            url::form_urlencoded::byte_serialize(skiptoken(ctx.now, end).as_bytes()).collect();
        params.push(format!("$skiptoken={token}"));
        format!("{}{}?{}", ctx.base, ctx.path, params.join("&"))
    });
    Reply::odata(collection(
        context,
        None,
        &render(start, end),
        next_link.as_deref(),
    ))
}

/// `GET /api/machines/SoftwareVulnerabilitiesByMachine`.
pub(crate) fn export(ctx: &Ctx<'_>) -> Reply {
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let damage = Damage::of(ctx);
    let n_records: usize = if damage.rows.is_none() {
        tenant
            .listed_devices()
            .map(|device| device.current_vulns().count())
            .sum()
    } else {
        current_rows(&tenant)
            .filter(|row| damage.served(|| export_id(row)))
            .count()
    };
    let render = |start: usize, end: usize| -> Vec<String> {
        current_rows(&tenant)
            .filter(|row| damage.served(|| export_id(row)))
            .skip(start)
            .take(end - start)
            .map(|row| export_record(&row, None, damage.fate(|| export_id(&row))))
            .collect()
    };
    export_page(
        ctx,
        n_records,
        &ctx.context("Collection(microsoft.windowsDefenderATP.api.AssetVulnerability)"),
        &render,
    )
}

/// Delta events of one instance since `since`: (status, time).
fn events(
    tenant: &Tenant,
    vuln: &VulnInstance,
    since: DateTime<Utc>,
) -> Vec<(&'static str, DateTime<Utc>)> {
    let mut out = Vec::new();
    if vuln.first_seen >= since {
        out.push(("New", vuln.first_seen));
    }
    if let Some(rescored) = tenant.cves[usize::from(vuln.cve)].rescored_at {
        let alive =
            vuln.first_seen < rescored && vuln.fixed_at.is_none_or(|fixed| rescored < fixed);
        if rescored >= since && alive && vuln.first_seen < since {
            out.push(("Updated", rescored));
        }
    }
    if let Some(fixed) = vuln.fixed_at.filter(|fixed| *fixed >= since) {
        out.push(("Fixed", fixed));
    }
    out
}

/// `GET /api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime=…`.
pub(crate) fn delta_export(ctx: &Ctx<'_>) -> Reply {
    let Some(since_text) = param(ctx, "sinceTime") else {
        return Reply::mde_error(
            400,
            "MissingRequiredParameter",
            "sinceTime is a required parameter",
        );
    };
    let Some(since) = DateTime::parse_from_rfc3339(since_text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
    else {
        return Reply::mde_error(
            400,
            "InvalidInput",
            &format!("Invalid sinceTime: {since_text}"),
        );
    };
    if since < ctx.now - Duration::days(DELTA_MAX_DAYS) {
        return Reply::mde_error(
            400,
            "InvalidInput",
            &format!("sinceTime must be within the last {DELTA_MAX_DAYS} days"),
        );
    }
    let guard = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let tenant: &Tenant = &guard;
    let damage = Damage::of(ctx);
    let all = || {
        tenant
            .listed_devices()
            .flat_map(move |device| {
                device.vulns.iter().flat_map(move |vuln| {
                    events(tenant, vuln, since).into_iter().map(move |event| {
                        (
                            MvRow {
                                tenant,
                                device,
                                vuln,
                            },
                            event,
                        )
                    })
                })
            })
            .filter(|(row, (status, _))| damage.served(|| delta_id(row, status)))
    };
    let n_records = all().count();
    let render = |start: usize, end: usize| -> Vec<String> {
        all()
            .skip(start)
            .take(end - start)
            .map(|(row, (status, time))| {
                let fate = damage.fate(|| delta_id(&row, status));
                export_record(&row, Some((status, time)), fate)
            })
            .collect()
    };
    export_page(
        ctx,
        n_records,
        &ctx.context("Collection(microsoft.windowsDefenderATP.api.DeltaAssetVulnerability)"),
        &render,
    )
}
