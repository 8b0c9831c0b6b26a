//! `mde-car asset ID`: everything stored about one device, section by section as the
//! Explorer's detail view shows it. `--json` prints the core's `AssetDetail` as it serializes.

use std::process::ExitCode;

use mde_car_core::{
    Core,
    search::{AssetDetail, LinkedValue, RelationSource, RunRef},
};

use crate::{
    cli::AssetArgs,
    print::{emit, emit_text, or_dash, say, time, time_or_dash},
    search::{alerts_text, connection_name, defender_text, vulnerabilities_text},
};

pub(crate) async fn run(core: &Core, args: &AssetArgs) -> anyhow::Result<ExitCode> {
    let detail = core.asset_detail(&args.id).await?;
    let mut out = String::new();
    if args.json {
        say!(out, "{}", serde_json::to_string_pretty(&detail)?);
        emit(&out)
    } else {
        print_detail(&mut out, &detail);
        emit_text(&out)
    }
}

/// The title, then one section per kind of data, each after a blank line.
fn print_detail(out: &mut String, detail: &AssetDetail) {
    print_title(out, detail);
    print_risk(out, detail);
    print_identity(out, detail);
    print_linked_values(out, "Host names", &detail.host_names);
    print_ip_addresses(out, detail);
    print_ip_history(out, detail);
    print_linked_values(out, "MAC addresses", &detail.mac_addresses);
    print_accounts(out, detail);
    print_alerts(out, detail);
    print_vulnerabilities(out, detail);
    print_source(out, detail);
}

fn print_title(out: &mut String, detail: &AssetDetail) {
    let inactive = if detail.active {
        String::new()
    } else {
        format!(
            "  (inactive: {})",
            detail.inactive_reason.as_deref().unwrap_or("unknown")
        )
    };
    say!(
        out,
        "#{}  {}  [{}]{inactive}",
        detail.asset_id,
        detail.name.as_deref().unwrap_or(&detail.device_id),
        connection_name(&detail.connection)
    );
}

/// The score with the reason for each part of it, so a reader can check the sum.
fn print_risk(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(
        out,
        "Risk {:.1} ({})",
        detail.risk.score,
        detail.risk.level.key()
    );
    for component in &detail.risk.components {
        say!(out, "  {}", component.explanation);
    }
    say!(out, "  Defender: {}", defender_text(&detail.defender));
}

fn print_identity(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(out, "Identity");
    say!(out, "  device id       {}", detail.device_id);
    say!(
        out,
        "  Entra device id {}",
        or_dash(detail.aad_device_id.as_deref())
    );
    say!(out, "  OS              {}", detail.os.describe());
    say!(
        out,
        "  health          {} ({})",
        or_dash(detail.health_status.as_deref()),
        or_dash(detail.onboarding_status.as_deref())
    );
    say!(
        out,
        "  group           {}",
        or_dash(detail.rbac_group_name.as_deref())
    );
    let tags = if detail.tags.is_empty() {
        "—".to_owned()
    } else {
        detail.tags.join(", ")
    };
    say!(out, "  tags            {tags}");
    if let Some(merged) = &detail.merged_into {
        say!(out, "  merged into     {merged}");
    }
    say!(
        out,
        "  seen by Defender {} – {}",
        time_or_dash(detail.defender_first_seen),
        time_or_dash(detail.defender_last_seen)
    );
}

/// Host names and MAC addresses: values the device had, now or before, and when.
fn print_linked_values(out: &mut String, heading: &str, values: &[LinkedValue]) {
    say!(out);
    say!(out, "{heading}");
    for value in values {
        say!(
            out,
            "  {}  {}, seen {} – {}",
            value.value,
            state(value.active),
            time(value.first_seen),
            time(value.last_seen)
        );
    }
}

fn print_ip_addresses(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(out, "IP addresses (device record)");
    for address in &detail.ip_addresses {
        let external = match address.source {
            RelationSource::ExternalAddress => ", external",
            _ => "",
        };
        say!(
            out,
            "  {}  {}{external}{}, {}, seen {} – {}",
            address.address,
            address.class,
            mac_text(address.mac.as_deref()),
            state(address.active),
            time(address.first_seen),
            time(address.last_seen)
        );
    }
}

/// Leases come only from connections that import IP history; without any, the section is left
/// out rather than shown empty.
fn print_ip_history(out: &mut String, detail: &AssetDetail) {
    if detail.ip_history.is_empty() {
        return;
    }
    say!(out);
    say!(out, "IP history (DeviceNetworkInfo)");
    for lease in &detail.ip_history {
        say!(
            out,
            "  {}  {} – {}{}",
            lease.address,
            time(lease.since),
            lease.until.map_or("now".to_owned(), time),
            mac_text(lease.mac.as_deref())
        );
    }
}

fn print_accounts(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(out, "Accounts");
    for account in &detail.accounts {
        let admin = if account.is_local_admin == Some(true) {
            ", local admin"
        } else {
            ""
        };
        say!(
            out,
            "  {}\\{}  {}{admin}, logons {} – {}",
            or_dash(account.domain.as_deref()),
            account.name,
            or_dash(account.sid.as_deref()),
            time(account.first_seen),
            time(account.last_seen)
        );
    }
}

fn print_alerts(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(out, "Alerts ({})", alerts_text(&detail.alert_counts));
    for alert in &detail.alerts {
        say!(
            out,
            "  {} {} [{}] {}  created {}",
            alert.severity,
            alert.status,
            alert.alert_id,
            alert.title,
            time(alert.created)
        );
    }
}

fn print_vulnerabilities(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(
        out,
        "Vulnerabilities ({})",
        vulnerabilities_text(&detail.vulnerability_summary)
    );
    for vulnerability in &detail.vulnerabilities {
        let cvss = vulnerability
            .cvss
            .map_or("—".to_owned(), |cvss| format!("{cvss:.1}"));
        let fixed = if vulnerability.active {
            ""
        } else {
            "  (fixed)"
        };
        say!(
            out,
            "  {}  CVSS {cvss}  {} {} {}{fixed}",
            vulnerability.cve,
            vulnerability.vendor,
            vulnerability.product,
            vulnerability.version
        );
    }
}

/// Where the record came from and which runs brought it, to find them in `mde-car runs`.
fn print_source(out: &mut String, detail: &AssetDetail) {
    say!(out);
    say!(
        out,
        "Source: connection {} ({}), first synced {} (run #{}), last synced {} (run #{})",
        connection_name(&detail.connection),
        detail.connection.id,
        time(detail.first_synced),
        run_number(detail.first_run.as_ref()),
        time(detail.last_synced),
        run_number(detail.last_run.as_ref()),
    );
}

fn state(active: bool) -> &'static str {
    if active { "current" } else { "former" }
}

fn run_number(run: Option<&RunRef>) -> String {
    run.map_or("?".to_owned(), |run| run.id.to_string())
}

fn mac_text(mac: Option<&str>) -> String {
    mac.map(|mac| format!(", MAC {mac}")).unwrap_or_default()
}
