// Dev-only answers for the Explorer's commands, so `npm run dev` can click through a search, the
// IP view and the device view without Rust. A rough sketch: the real grammar and data live in Rust.
import type { AssetDetail, AssetHit, IpTimeline, SearchRequest, SearchResults } from "../ipc";

const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

function hit(assetId: number, name: string, score: number, current: boolean, address: string): AssetHit {
  const level = score >= 8 ? "critical" : score >= 6 ? "high" : score >= 3 ? "medium" : score > 0 ? "low" : "none";
  return {
    assetId,
    connection: { id: "c1", name: "Contoso production" },
    deviceId: `${assetId}f3a9c0d2e4b6a8c0d2e4b6a8c0d2e4b6a8c0d2`,
    name,
    os: { platform: "Windows11", version: null, build: 22631, release: "23H2", architecture: "64-bit", description: "Windows11 23H2 (build 22631)" },
    healthStatus: "Active",
    active: true,
    risk: {
      score,
      level,
      components: [
        { factor: "highest_cvss", points: Math.min(4, score / 2), explanation: `highest CVSS of an active vulnerability × 0.4 = +${Math.min(4, score / 2).toFixed(1)}` },
        { factor: "severe_vulnerabilities", points: 0.4, explanation: "1 Critical vulnerability and 1 High × 0.2 = +0.4" },
        { factor: "alerts", points: Math.max(0, score / 2 - 0.4), explanation: `active alerts: +${Math.max(0, score / 2 - 0.4).toFixed(1)}` },
        { factor: "device_value", points: 0, explanation: "device value Normal × 1.0, +0.0" },
      ],
      summary: `${score.toFixed(1)} (${level})`,
    },
    defender: { riskScore: score > 6 ? "High" : "Medium", exposureLevel: "Medium", deviceValue: "Normal" },
    alerts: { high: score > 6 ? 1 : 0, medium: 1, low: 0, informational: 2, total: score > 6 ? 4 : 3 },
    vulnerabilities: { active: 14, critical: 1, high: 1, maxCvss: 9.8 },
    relations: [
      {
        kind: current ? "current_holder" : "past_holder",
        source: "ip_history",
        value: address,
        addressClass: "private",
        current,
        firstSeen: day(current ? 6 : 20),
        lastSeen: day(current ? 0 : 7),
        until: current ? null : day(7),
        sharedBy: null,
        text: `${current ? "current" : "past"} holder of ${address} (private)`,
      },
    ],
    lastSeen: day(0),
    lastSynced: day(0),
  };
}

function search(request: SearchRequest): SearchResults {
  const query = request.query.trim();
  if (!query || /^\d+\.\d+\.\d+$/.test(query) || /\b(25[6-9]|2[6-9]\d|[3-9]\d\d)\b/.test(query)) {
    const message = `'${query}' is not an IPv4 address (dev mock); enter an IP, a CIDR range, a host name or a MAC`;
    throw { code: "validation", message, fields: [{ field: "query", message }] };
  }
  const address = query.split("@")[0]!.trim();
  const hits = [hit(1, "web01.contoso.com", 7.4, true, address), hit(2, "laptop-17.contoso.com", 2.1, false, address)];
  return {
    query: { kind: request.at || query.includes("@") ? "ip_at_time" : "ip", value: address, at: request.at ? day(1) : null },
    interpretation: `devices that held IP address ${address} (private)`,
    notes: [],
    connection: null,
    sort: request.sort,
    reverse: request.reverse,
    total: hits.length,
    offset: 0,
    limit: request.limit,
    hits,
  };
}

function timeline(address: string): IpTimeline {
  const holders = [hit(2, "laptop-17.contoso.com", 2.1, false, address), hit(1, "web01.contoso.com", 7.4, true, address)];
  return {
    address,
    family: 4,
    class: "private",
    spans: [
      { assetId: 2, source: "ip_history", from: day(20), until: day(7), lastSeen: day(7) },
      { assetId: 1, source: "ip_history", from: day(6), until: null, lastSeen: day(0) },
    ],
    holders,
    notes: [],
  };
}

function detail(reference: string): AssetDetail {
  const h = hit(Number(reference) || 1, reference === "2" ? "laptop-17.contoso.com" : "web01.contoso.com", 7.4, true, "10.1.2.3");
  return {
    assetId: h.assetId, connection: h.connection, deviceId: h.deviceId, name: h.name, os: h.os, healthStatus: "Active",
    onboardingStatus: "Onboarded", rbacGroupId: 3, rbacGroupName: "Servers", tags: ["prod"], aadDeviceId: null, aadJoined: true,
    mergedInto: null, potentialDuplicate: false, active: true, inactiveReason: null, defenderFirstSeen: day(90),
    defenderLastSeen: day(0), firstSynced: day(30), lastSynced: day(0), defender: h.defender, risk: h.risk,
    alertCounts: h.alerts, vulnerabilitySummary: h.vulnerabilities,
    hostNames: [{ value: h.name!, firstSeen: day(30), lastSeen: day(0), active: true }],
    ipAddresses: [{ address: "10.1.2.3", family: 4, class: "private", source: "device_record", mac: "00:15:5D:AA:00:01", interfaceType: "Ethernet", firstSeen: day(6), lastSeen: day(0), active: true }],
    ipHistory: [{ address: "10.1.2.3", class: "private", mac: "00:15:5D:AA:00:01", since: day(6), until: null, lastReport: day(0) }],
    macAddresses: [{ value: "00:15:5D:AA:00:01", firstSeen: day(30), lastSeen: day(0), active: true }],
    accounts: [{ domain: "CONTOSO", name: "alice", sid: null, logonType: "Interactive", isLocalAdmin: false, firstSeen: day(20), lastSeen: day(1), active: true }],
    alerts: [{ alertId: "da1", title: "Suspicious PowerShell command line", severity: "High", status: "New", active: true, category: "Execution", detectionSource: "EDR", classification: null, determination: null, created: day(1), updated: day(1), firstEvent: null, lastEvent: null, resolved: null }],
    vulnerabilities: [{ cve: "CVE-2026-21001", cvss: 9.8, severity: "Critical", vendor: "microsoft", product: "edge", version: "120.0", firstSeen: day(12), lastSeen: day(0), active: true }],
    firstRun: null, lastRun: null,
  };
}

const outcome = (fileName: string) => ({ saved: true, path: `~/Downloads/${fileName}`, fileName, items: 2, total: 2, truncated: false, summary: "Exported 2 results (dev mock; nothing written)" });

/** The answer to an Explorer command, or `undefined` when `cmd` is not one. */
export function explorerAnswer(cmd: string, args: Record<string, unknown>): unknown {
  switch (cmd) {
    case "search":
      return search(args.request as SearchRequest);
    case "ip_timeline":
      return timeline(args.address as string);
    case "asset_detail":
      return detail(args.reference as string);
    case "confirm_attribution":
      return { connection: { id: "c1", name: "Contoso production" }, address: args.address, at: args.at, live: [], local: [], agrees: true, summary: "Defender confirms web01.contoso.com (dev mock)" };
    case "export_search":
    case "export_ip_timeline":
    case "export_asset":
      return outcome(`mde-car-${cmd.slice(7)}.${args.format as string}`);
    default:
      return undefined;
  }
}
