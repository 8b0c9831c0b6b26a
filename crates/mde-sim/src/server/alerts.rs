//! `/api/alerts`, `/api/alerts/{id}`, `/api/alerts/{id}/machine`, `/api/machines/{id}/alerts`.

use super::machines::{self, collection, maybe_shuffle};
use super::odata::{self, EntitySpec, FVal, FieldType, Record};
use super::{Ctx, Reply};
use crate::format::{self, Obj};
use crate::tenant::{Alert, Evidence};

pub(crate) const ALERT_PROPERTIES: &[&str] = &[
    "id",
    "incidentId",
    "investigationId",
    "assignedTo",
    "severity",
    "status",
    "classification",
    "determination",
    "investigationState",
    "detectionSource",
    "detectorId",
    "category",
    "threatFamilyName",
    "title",
    "description",
    "alertCreationTime",
    "firstEventTime",
    "lastEventTime",
    "lastUpdateTime",
    "resolvedTime",
    "machineId",
    "computerDnsName",
    "rbacGroupName",
    "aadTenantId",
    "threatName",
    "mitreTechniques",
    "relatedUser",
    "loggedOnUsers",
    "comments",
    "evidence",
    "domains",
];

pub(crate) const ALERT_SPEC: EntitySpec = EntitySpec {
    type_name: "microsoft.windowsDefenderATP.api.PublicAlertV2",
    filterable: &[
        ("alertCreationTime", FieldType::DateTime),
        ("lastUpdateTime", FieldType::DateTime),
        ("incidentId", FieldType::Number),
        ("investigationId", FieldType::Number),
        ("id", FieldType::Str),
        ("assignedTo", FieldType::Str),
        ("detectionSource", FieldType::Str),
        ("lastEventTime", FieldType::DateTime),
        ("status", FieldType::Str),
        ("severity", FieldType::Str),
        ("category", FieldType::Str),
    ],
    properties: ALERT_PROPERTIES,
    expandable: &["evidence"],
};

impl Record for &Alert {
    fn get(&self, property: &str) -> FVal {
        let opt_time =
            |time: Option<chrono::DateTime<chrono::Utc>>| time.map_or(FVal::Null, FVal::Time);
        match property {
            "id" => FVal::Str(self.id.clone()),
            "incidentId" => self
                .incident_id
                .map_or(FVal::Null, |id| FVal::Num(id as f64)),
            "investigationId" => self
                .investigation_id
                .map_or(FVal::Null, |id| FVal::Num(id as f64)),
            "assignedTo" => self.assigned_to.clone().map_or(FVal::Null, FVal::Str),
            "severity" => FVal::Str(self.severity.to_owned()),
            "status" => FVal::Str(self.status.to_owned()),
            "detectionSource" => FVal::Str(self.detection_source.to_owned()),
            "category" => FVal::Str(self.category.to_owned()),
            "title" => FVal::Str(self.title.to_owned()),
            "alertCreationTime" => FVal::Time(self.alert_creation_time),
            "firstEventTime" => opt_time(self.first_event_time),
            "lastEventTime" => opt_time(self.last_event_time),
            "lastUpdateTime" => FVal::Time(self.last_update_time),
            "resolvedTime" => opt_time(self.resolved_time),
            "machineId" => FVal::Str(self.machine_id.clone()),
            "computerDnsName" => FVal::Str(self.computer_dns_name.clone()),
            _ => FVal::Null,
        }
    }
}

pub(crate) fn evidence_json(evidence: &Evidence) -> String {
    let mut obj = Obj::new();
    obj.str("entityType", evidence.entity_type)
        .opt_time("evidenceCreationTime", evidence.evidence_creation_time)
        .opt_str("sha1", evidence.sha1.as_deref())
        .opt_str("sha256", evidence.sha256.as_deref())
        .opt_str("fileName", evidence.file_name.as_deref())
        .opt_str("filePath", evidence.file_path.as_deref())
        .opt_int("processId", evidence.process_id)
        .opt_str(
            "processCommandLine",
            evidence.process_command_line.as_deref(),
        )
        .opt_time("processCreationTime", evidence.process_creation_time)
        .opt_int("parentProcessId", evidence.parent_process_id)
        .opt_time(
            "parentProcessCreationTime",
            evidence.parent_process_creation_time,
        )
        .opt_str(
            "parentProcessFileName",
            evidence.parent_process_file_name.as_deref(),
        )
        .opt_str(
            "parentProcessFilePath",
            evidence.parent_process_file_path.as_deref(),
        )
        .opt_str("ipAddress", evidence.ip_address.as_deref())
        .opt_str("url", evidence.url.as_deref())
        .opt_str("registryKey", evidence.registry_key.as_deref())
        .opt_str("registryHive", evidence.registry_hive.as_deref())
        .opt_str("registryValueType", evidence.registry_value_type.as_deref())
        .opt_str("registryValue", evidence.registry_value.as_deref())
        .opt_str("registryValueName", evidence.registry_value_name.as_deref())
        .opt_str("accountName", evidence.account_name.as_deref())
        .opt_str("domainName", evidence.domain_name.as_deref())
        .opt_str("userSid", evidence.user_sid.as_deref())
        .opt_str("aadUserId", evidence.aad_user_id.as_deref())
        .opt_str("userPrincipalName", evidence.user_principal_name.as_deref())
        .opt_str("detectionStatus", evidence.detection_status);
    obj.finish()
}

/// An alert exactly as the service prints it (docs/defender-api.md#alerts).
pub(crate) fn alert_json(
    alert: &Alert,
    tenant_id: &str,
    expand_evidence: bool,
    keep: Option<&dyn Fn(&str) -> bool>,
    context: Option<&str>,
) -> String {
    let mut obj = Obj::selecting(keep);
    if let Some(context) = context {
        obj.str("@odata.context", context);
    }
    let related_user = alert.related_user.as_ref().map_or_else(
        || "null".to_owned(),
        |(user, domain)| {
            let mut inner = Obj::new();
            inner.str("userName", user).str("domainName", domain);
            inner.finish()
        },
    );
    let logged_on: Vec<String> = alert
        .logged_on_users
        .iter()
        .map(|(account, domain)| {
            let mut inner = Obj::new();
            inner.str("accountName", account).str("domainName", domain);
            inner.finish()
        })
        .collect();
    let comments: Vec<String> = alert
        .comments
        .iter()
        .map(|comment| {
            let mut inner = Obj::new();
            inner
                .str("comment", &comment.comment)
                .str("createdBy", &comment.created_by)
                .time("createdTime", comment.created_time);
            inner.finish()
        })
        .collect();
    let evidence: Vec<String> = if expand_evidence {
        alert.evidence.iter().map(evidence_json).collect()
    } else {
        Vec::new()
    };
    obj.str("id", &alert.id)
        .opt_int("incidentId", alert.incident_id)
        .opt_int("investigationId", alert.investigation_id)
        .opt_str("assignedTo", alert.assigned_to.as_deref())
        .str("severity", alert.severity)
        .str("status", alert.status)
        .opt_str("classification", alert.classification)
        .opt_str("determination", alert.determination)
        .opt_str("investigationState", alert.investigation_state)
        .str("detectionSource", alert.detection_source)
        .str("detectorId", &alert.detector_id)
        .str("category", alert.category)
        .opt_str("threatFamilyName", alert.threat_family_name)
        .str("title", alert.title)
        .str("description", &alert.description)
        .time("alertCreationTime", alert.alert_creation_time)
        .opt_time("firstEventTime", alert.first_event_time)
        .opt_time("lastEventTime", alert.last_event_time)
        .time("lastUpdateTime", alert.last_update_time)
        .opt_time("resolvedTime", alert.resolved_time)
        .str("machineId", &alert.machine_id)
        .str("computerDnsName", &alert.computer_dns_name)
        .opt_str("rbacGroupName", alert.rbac_group_name)
        .str("aadTenantId", tenant_id)
        .opt_str("threatName", alert.threat_name)
        .strs("mitreTechniques", &alert.mitre_techniques)
        .raw("relatedUser", &related_user)
        .raw("loggedOnUsers", &format::array(&logged_on))
        .raw("comments", &format::array(&comments))
        .raw("evidence", &format::array(&evidence))
        .raw("domains", "[]");
    obj.finish()
}

fn list_filtered(ctx: &Ctx<'_>, machine_id: Option<&str>, count_only: bool) -> Reply {
    let shared = ctx.shared;
    let max_page = shared.config.max_page_size;
    let query = match odata::parse_query(&ctx.query, &ALERT_SPEC, max_page) {
        Ok(query) => query,
        Err(message) => return Reply::odata_error(&message),
    };
    let tenant = shared.tenant.read().expect("tenant lock poisoned");
    let machine = match machine_id {
        Some(id) => match tenant.lookup(id) {
            Some(device) => Some(device.id.clone()),
            None => return machines::not_found(ctx, id),
        },
        None => None,
    };
    let mut matches: Vec<&Alert> = tenant
        .alerts
        .iter()
        .filter(|alert| machine.as_ref().is_none_or(|id| &alert.machine_id == id))
        .filter(|alert| {
            query
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(alert))
        })
        .collect();
    if count_only {
        return Reply {
            status: 200,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: matches.len().to_string(),
        };
    }
    if ctx.fault(crate::faults::FaultKind::EmptyPage).is_some() {
        return machines::empty_page(&ctx.context("Alerts"), query.count);
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
    let keep = |property: &str| odata::keeps(query.select.as_deref(), property, false);
    let keep_ref: Option<&dyn Fn(&str) -> bool> = query
        .select
        .as_ref()
        .map(|_| &keep as &dyn Fn(&str) -> bool);
    let expand = query.expand.contains(&"evidence");
    let items: Vec<String> = matches[page.start..page.end]
        .iter()
        .map(|alert| alert_json(alert, &shared.tenant_id, expand, keep_ref, None))
        .collect();
    let count = query.count.then_some(matches.len());
    Reply::odata(collection(
        &ctx.context("Alerts"),
        count,
        &items,
        page.next_link.as_deref(),
    ))
}

pub(crate) fn list(ctx: &Ctx<'_>, segments: &[String]) -> Reply {
    list_filtered(ctx, None, segments.len() == 2)
}

pub(crate) fn of_machine(ctx: &Ctx<'_>, segments: &[String]) -> Reply {
    if let Some(reply) = machines::flaky_404(ctx, &segments[1]) {
        return reply;
    }
    list_filtered(ctx, Some(&segments[1]), segments.len() == 4)
}

pub(crate) fn single(ctx: &Ctx<'_>, id: &str) -> Reply {
    let query = match odata::parse_query(&ctx.query, &ALERT_SPEC, usize::MAX) {
        Ok(query) => query,
        Err(message) => return Reply::odata_error(&message),
    };
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    match tenant.alert(id) {
        Some(alert) => Reply::odata(alert_json(
            alert,
            &ctx.shared.tenant_id,
            query.expand.contains(&"evidence"),
            None,
            Some(&ctx.context("Alerts/$entity")),
        )),
        None => Reply::mde_error(
            404,
            "ResourceNotFound",
            &format!("Alert {id} was not found"),
        ),
    }
}

pub(crate) fn machine_of(ctx: &Ctx<'_>, id: &str) -> Reply {
    let tenant = ctx.shared.tenant.read().expect("tenant lock poisoned");
    let Some(alert) = tenant.alert(id) else {
        return Reply::mde_error(
            404,
            "ResourceNotFound",
            &format!("Alert {id} was not found"),
        );
    };
    match tenant
        .device(&alert.machine_id)
        .filter(|device| device.removed_at.is_none())
    {
        Some(device) => Reply::odata(machines::machine_json(
            device,
            None,
            Some(&ctx.context("Machines/$entity")),
        )),
        None => machines::not_found(ctx, &alert.machine_id),
    }
}
