// Example answers of the Rust commands, each complete and overridable field by field; the tests
// and the browser mock build on them. Times are fixed (late November 2026) unless overridden.
import type { AssetDetail, AssetHit, CertificateInfo, ConnectionView, IpTimeline, SearchResults, SyncRun, TestReport } from "../ipc";

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const CLIENT = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

export function report(over: Partial<TestReport> = {}): TestReport {
  return {
    ok: true,
    code: "connected",
    title: "Connected",
    detail: "Token issued and the API answered in 412 ms.",
    grantedRoles: ["Machine.Read.All", "Alert.Read.All"],
    missingRoles: [],
    testedAt: "2026-11-28T10:00:00Z",
    durationMs: 412,
    data: [
      { data: "alerts", state: "available", detail: "" },
      { data: "ipHistory", state: "available", detail: "" },
      { data: "loggedOnUsers", state: "available", detail: "" },
      { data: "vulnerabilities", state: "available", detail: "" },
    ],
    ...over,
  };
}

/** A certificate's public facts as Rust reads them (the DER is a placeholder: nothing here parses it). */
export function certificateInfo(over: Partial<CertificateInfo> = {}): CertificateInfo {
  return {
    derBase64: "MIIC-placeholder",
    subject: "CN=mde-car Contoso",
    thumbprintSha256: "3A7F0C1D2E4B5A69788796A5B4C3D2E1F00112233445566778899AABBCCDDEEF",
    thumbprintSha1: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B",
    notBefore: "2026-06-01T00:00:00Z",
    notAfter: "2027-06-01T00:00:00Z",
    ...over,
  };
}

export function view(over: Partial<ConnectionView> = {}): ConnectionView {
  return {
    id: "c1",
    name: "Contoso production",
    description: "EU servers and workstations",
    tenantId: TENANT,
    clientId: CLIENT,
    cloud: "commercial",
    cloudLabel: "Commercial",
    frequency: { kind: "interval", minutes: 240 },
    frequencyText: "Every 4 hours",
    apiBaseUrl: null,
    loginAuthority: null,
    proxyUrl: null,
    caCertificateFile: null,
    credential: "secret",
    certificate: null,
    certificateState: null,
    certificateNotice: null,
    // The core's hosts for the commercial cloud (mde-car-core's `Cloud::endpoints`).
    effectiveApiBase: "https://api.security.microsoft.com",
    effectiveAuthority: "https://login.microsoftonline.com",
    data: { alerts: true, vulnerabilities: true, loggedOnUsers: false, ipHistory: true },
    requiredPermissions: ["Machine.Read.All", "Alert.Read.All", "Vulnerability.Read.All"],
    isDemo: false,
    status: "never_synced",
    statusText: "Not synced yet",
    lastTest: null,
    lastSyncAt: null,
    nextSyncAt: null,
    counts: null,
    lastRun: null,
    syncing: false,
    problems: [],
    createdAt: "2026-11-20T09:00:00Z",
    ...over,
  };
}

export function run(over: Partial<SyncRun> = {}): SyncRun {
  return {
    id: 7,
    connectionId: "c1",
    full: false,
    trigger: "schedule",
    startedAt: "2026-11-28T11:51:10Z",
    finishedAt: "2026-11-28T11:52:00Z",
    durationMs: 50_000,
    status: "succeeded",
    errorCode: null,
    error: null,
    apiCalls: [
      { endpoint: "token", calls: 1 },
      { endpoint: "machines", calls: 5 },
      { endpoint: "alerts", calls: 2 },
      { endpoint: "advanced_hunting", calls: 4 },
    ],
    totalApiCalls: 12,
    throttledMs: 0,
    changes: [
      { entity: "assets", added: 12, updated: 3, deactivated: 1 },
      { entity: "ip_addresses", added: 20, updated: 0, deactivated: 2 },
      { entity: "alerts", added: 4, updated: 1, deactivated: 0 },
    ],
    notes: [],
    ...over,
  };
}

/** A device in the Explorer's results: the current holder of 10.1.2.3, risk 7.4. */
export function hit(over: Partial<AssetHit> = {}): AssetHit {
  return {
    assetId: 7,
    connection: { id: "c1", name: "Contoso production" },
    deviceId: "a1b2c3",
    name: "web01.contoso.com",
    os: { platform: "Windows11", version: null, build: 22631, release: "23H2", architecture: "64-bit" },
    healthStatus: "Active",
    active: true,
    risk: {
      score: 7.4,
      level: "high",
      components: [
        { factor: "highest_cvss", points: 3.9, explanation: "highest CVSS of an active vulnerability 9.8 × 0.4 = +3.9" },
        { factor: "severe_vulnerabilities", points: 0.4, explanation: "1 Critical vulnerability and 1 High × 0.2 = +0.4" },
        { factor: "alerts", points: 2.0, explanation: "1 Medium alert: +2.0" },
        { factor: "device_value", points: 1.1, explanation: "device value High × 1.3 = +1.1" },
      ],
      summary: "7.4 (high)",
    },
    defender: { riskScore: "Medium", exposureLevel: "High", deviceValue: "High" },
    alerts: { high: 0, medium: 1, low: 2, informational: 0 },
    vulnerabilities: { active: 12, critical: 1, high: 1, maxCvss: 9.8 },
    relations: [
      {
        kind: "current_holder",
        source: "ip_history",
        value: "10.1.2.3",
        addressClass: "private",
        current: true,
        firstSeen: "2026-11-20T08:00:00Z",
        lastSeen: "2026-11-28T08:00:00Z",
        until: null,
        sharedBy: null,
        text: "current holder of 10.1.2.3 (private): IP history: since 2026-11-20 08:00",
      },
    ],
    lastSeen: "2026-11-28T07:50:00Z",
    lastSynced: "2026-11-28T08:00:00Z",
    ...over,
  };
}

/** One page of results holding `hits`, as the answer to a search for 10.1.2.3. */
export function results(hits: AssetHit[], over: Partial<SearchResults> = {}): SearchResults {
  return {
    query: { kind: "ip", value: "10.1.2.3", at: null },
    interpretation: "devices that held IP address 10.1.2.3 (private)",
    notes: [],
    connection: null,
    sort: "relevance",
    reverse: false,
    total: hits.length,
    offset: 0,
    limit: 50,
    hits,
    ...over,
  };
}

/** The device view of `hit()`, with one of everything. */
export function detail(over: Partial<AssetDetail> = {}): AssetDetail {
  const h = hit();
  return {
    assetId: 7,
    connection: h.connection,
    deviceId: "a1b2c3",
    name: "web01.contoso.com",
    os: h.os,
    healthStatus: "Active",
    onboardingStatus: "Onboarded",
    rbacGroupId: 3,
    rbacGroupName: "Servers",
    tags: ["prod", "dmz"],
    aadDeviceId: "0f0e0d0c-aaaa-bbbb-cccc-000000000001",
    aadJoined: true,
    mergedInto: null,
    potentialDuplicate: false,
    active: true,
    inactiveReason: null,
    defenderFirstSeen: "2026-01-01T00:00:00Z",
    defenderLastSeen: "2026-11-28T07:50:00Z",
    firstSynced: "2026-11-20T00:00:00Z",
    lastSynced: "2026-11-28T08:00:00Z",
    defender: h.defender,
    risk: h.risk,
    alertCounts: h.alerts,
    vulnerabilitySummary: h.vulnerabilities,
    hostNames: [{ value: "web01.contoso.com", firstSeen: "2026-11-20T00:00:00Z", lastSeen: "2026-11-28T00:00:00Z", active: true }],
    ipAddresses: [
      { address: "10.1.2.3", family: 4, class: "private", source: "device_record", mac: "00:15:5D:AA:00:01", interfaceType: "Ethernet", firstSeen: "2026-11-20T00:00:00Z", lastSeen: "2026-11-28T00:00:00Z", active: true },
    ],
    ipHistory: [{ address: "10.1.2.3", class: "private", mac: null, since: "2026-11-20T08:00:00Z", until: null, lastReport: "2026-11-28T08:00:00Z" }],
    macAddresses: [{ value: "00:15:5D:AA:00:01", firstSeen: "2026-11-20T00:00:00Z", lastSeen: "2026-11-28T00:00:00Z", active: true }],
    accounts: [{ domain: "CONTOSO", name: "alice", sid: null, logonType: "Interactive", isLocalAdmin: false, firstSeen: "2026-11-21T00:00:00Z", lastSeen: "2026-11-27T00:00:00Z", active: true }],
    alerts: [
      { alertId: "da1", title: "Suspicious PowerShell", severity: "Medium", status: "New", active: true, category: "Execution", detectionSource: null, classification: null, determination: null, created: "2026-11-27T10:00:00Z", updated: "2026-11-27T11:00:00Z", firstEvent: null, lastEvent: null, resolved: null },
    ],
    vulnerabilities: [
      { cve: "CVE-2026-0001", cvss: 9.8, severity: "Critical", vendor: "microsoft", product: "edge", version: "120.0", firstSeen: "2026-11-20T00:00:00Z", lastSeen: "2026-11-28T00:00:00Z", active: true },
    ],
    firstRun: { id: 1, mode: "full", trigger: "manual", startedAt: "2026-11-20T00:00:00Z", finishedAt: "2026-11-20T00:01:00Z", status: "succeeded" },
    lastRun: { id: 9, mode: "incremental", trigger: "schedule", startedAt: "2026-11-28T08:00:00Z", finishedAt: "2026-11-28T08:00:30Z", status: "succeeded" },
    ...over,
  };
}

/** 10.1.2.3 over time: laptop-17 (asset 5, low risk) held it, then `hit()` (asset 7) since Nov 20. */
export function timeline(over: Partial<IpTimeline> = {}): IpTimeline {
  return {
    address: "10.1.2.3",
    family: 4,
    class: "private",
    spans: [
      { assetId: 5, source: "ip_history", from: "2026-11-10T08:00:00Z", until: "2026-11-19T08:00:00Z", lastSeen: "2026-11-19T08:00:00Z" },
      { assetId: 7, source: "ip_history", from: "2026-11-20T08:00:00Z", until: null, lastSeen: "2026-11-28T08:00:00Z" },
    ],
    holders: [hit({ assetId: 5, name: "laptop-17", risk: { ...hit().risk, score: 1.2, level: "low" } }), hit()],
    notes: [],
    ...over,
  };
}
