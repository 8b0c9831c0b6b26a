-- The local asset graph (CAR vocabulary: assets and the ip addresses, mac addresses, host names,
-- accounts, applications, vulnerabilities and alerts linked to them), and sync bookkeeping.
--
-- Times are INTEGER milliseconds since the Unix epoch, UTC. Every link carries first_seen,
-- last_seen, active, the connection and the first/last sync run that asserted it; a link that
-- stops being asserted turns inactive and stays as history.

-- One row per sync run. Written outside the run's own transaction, so failed, cancelled and
-- interrupted runs are recorded too.
CREATE TABLE sync_runs (
    id            INTEGER PRIMARY KEY,
    connection_id TEXT    NOT NULL,
    mode          TEXT    NOT NULL CHECK (mode IN ('full', 'incremental')),
    trigger       TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    status        TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    error_code    TEXT,
    error         TEXT,
    api_calls     TEXT    NOT NULL DEFAULT '{}',  -- JSON: endpoint -> calls
    throttled_ms  INTEGER NOT NULL DEFAULT 0,     -- time spent waiting on rate limits
    changes       TEXT    NOT NULL DEFAULT '{}',  -- JSON: entity -> {added, updated, deactivated}
    notes         TEXT    NOT NULL DEFAULT '[]'   -- JSON: skipped data types and warnings, in words
);
CREATE INDEX sync_runs_by_connection ON sync_runs (connection_id, started_at DESC);

-- Where the next incremental run of a data type starts; advanced only by a complete run.
CREATE TABLE sync_watermarks (
    connection_id TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    value         INTEGER NOT NULL,
    run_id        INTEGER NOT NULL,
    PRIMARY KEY (connection_id, kind)
);

CREATE TABLE assets (
    id                  INTEGER PRIMARY KEY,
    connection_id       TEXT    NOT NULL,
    device_id           TEXT    NOT NULL,   -- Defender's machine id
    name                TEXT,
    os_platform         TEXT,
    os_version          TEXT,
    os_build            INTEGER,
    os_release          TEXT,               -- e.g. 22H2
    os_architecture     TEXT,
    health_status       TEXT,
    onboarding_status   TEXT,
    risk_score          TEXT,               -- Defender's risk level
    exposure_level      TEXT,
    device_value        TEXT,
    tags                TEXT    NOT NULL DEFAULT '[]',
    rbac_group_id       INTEGER,
    rbac_group_name     TEXT,
    aad_device_id       TEXT,
    aad_joined          INTEGER,
    merged_into         TEXT,
    potential_duplicate INTEGER NOT NULL DEFAULT 0,
    defender_first_seen INTEGER,
    defender_last_seen  INTEGER,
    first_seen          INTEGER NOT NULL,   -- first and last run that listed the device
    last_seen           INTEGER NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    inactive_reason     TEXT,               -- 'vanished' | 'inactive_15_days'
    first_run           INTEGER NOT NULL,
    last_run            INTEGER NOT NULL,
    UNIQUE (connection_id, device_id)
);
CREATE INDEX assets_by_name ON assets (name COLLATE NOCASE);

-- Key-based vertices, shared by all connections (CAR's ipaddress / macaddress / hostname).
-- An address is 16 bytes (IPv4 as IPv4-mapped IPv6), so a CIDR range is one index range scan.
CREATE TABLE ip_addresses (
    id      INTEGER PRIMARY KEY,
    address BLOB    NOT NULL UNIQUE,
    text    TEXT    NOT NULL,
    family  INTEGER NOT NULL CHECK (family IN (4, 6)),
    class   TEXT    NOT NULL   -- private | public | link_local | loopback | other
);
CREATE TABLE mac_addresses (
    id      INTEGER PRIMARY KEY,
    address TEXT    NOT NULL UNIQUE   -- AA:BB:CC:DD:EE:FF
);
CREATE TABLE hostnames (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE COLLATE NOCASE
);
-- Keyed by SID when known, else by domain\name; never by a bare name, so the local
-- "administrator" of two machines are two accounts.
CREATE TABLE accounts (
    id     INTEGER PRIMARY KEY,
    key    TEXT    NOT NULL UNIQUE,
    domain TEXT,
    name   TEXT    NOT NULL,
    sid    TEXT
);
CREATE TABLE applications (
    id      INTEGER PRIMARY KEY,
    vendor  TEXT NOT NULL,
    product TEXT NOT NULL,
    version TEXT NOT NULL,
    UNIQUE (vendor, product, version)
);
CREATE TABLE vulnerabilities (
    id       INTEGER PRIMARY KEY,
    cve      TEXT NOT NULL UNIQUE,
    cvss     REAL,
    severity TEXT
);
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    connection_id    TEXT    NOT NULL,
    alert_id         TEXT    NOT NULL,
    device_id        TEXT,
    title            TEXT    NOT NULL,
    description      TEXT,
    severity         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    category         TEXT,
    classification   TEXT,
    determination    TEXT,
    detection_source TEXT,
    created          INTEGER NOT NULL,
    updated          INTEGER NOT NULL,
    first_event      INTEGER,
    last_event       INTEGER,
    resolved         INTEGER,
    first_seen       INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    first_run        INTEGER NOT NULL,
    last_run         INTEGER NOT NULL,
    UNIQUE (connection_id, alert_id)
);
CREATE INDEX alerts_by_device ON alerts (connection_id, device_id);

-- Links. `source` of an address link: 'device' (the latest device record), 'external' (the
-- device's last public egress address).
CREATE TABLE asset_ip_addresses (
    asset_id       INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    ip_id          INTEGER NOT NULL REFERENCES ip_addresses (id),
    source         TEXT    NOT NULL,
    mac_id         INTEGER REFERENCES mac_addresses (id),
    interface_type TEXT,
    connection_id  TEXT    NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    active         INTEGER NOT NULL,
    first_run      INTEGER NOT NULL,
    last_run       INTEGER NOT NULL,
    PRIMARY KEY (asset_id, ip_id, source)
) WITHOUT ROWID;
CREATE INDEX asset_ip_addresses_by_ip ON asset_ip_addresses (ip_id);

CREATE TABLE asset_mac_addresses (
    asset_id      INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    mac_id        INTEGER NOT NULL REFERENCES mac_addresses (id),
    connection_id TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    first_run     INTEGER NOT NULL,
    last_run      INTEGER NOT NULL,
    PRIMARY KEY (asset_id, mac_id)
) WITHOUT ROWID;
CREATE INDEX asset_mac_addresses_by_mac ON asset_mac_addresses (mac_id);

CREATE TABLE asset_hostnames (
    asset_id      INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    hostname_id   INTEGER NOT NULL REFERENCES hostnames (id),
    connection_id TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    first_run     INTEGER NOT NULL,
    last_run      INTEGER NOT NULL,
    PRIMARY KEY (asset_id, hostname_id)
) WITHOUT ROWID;
CREATE INDEX asset_hostnames_by_hostname ON asset_hostnames (hostname_id);

CREATE TABLE asset_accounts (
    asset_id       INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    logon_type     TEXT,
    is_local_admin INTEGER,
    connection_id  TEXT    NOT NULL,
    first_seen     INTEGER NOT NULL,   -- first and last logon seen
    last_seen      INTEGER NOT NULL,
    active         INTEGER NOT NULL,
    first_run      INTEGER NOT NULL,
    last_run       INTEGER NOT NULL,
    PRIMARY KEY (asset_id, account_id)
) WITHOUT ROWID;

CREATE TABLE asset_vulnerabilities (
    asset_id         INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    vulnerability_id INTEGER NOT NULL REFERENCES vulnerabilities (id),
    application_id   INTEGER NOT NULL REFERENCES applications (id),
    connection_id    TEXT    NOT NULL,
    first_seen       INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    active           INTEGER NOT NULL,
    first_run        INTEGER NOT NULL,
    last_run         INTEGER NOT NULL,
    PRIMARY KEY (asset_id, vulnerability_id, application_id)
) WITHOUT ROWID;
CREATE INDEX asset_vulnerabilities_by_vulnerability ON asset_vulnerabilities (vulnerability_id);

-- Who held an address when: intervals rebuilt from DeviceNetworkInfo reports. `until` is NULL
-- while the latest report still shows the address.
CREATE TABLE ip_leases (
    asset_id      INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    ip_id         INTEGER NOT NULL REFERENCES ip_addresses (id),
    mac_id        INTEGER REFERENCES mac_addresses (id),
    since         INTEGER NOT NULL,
    until         INTEGER,
    last_report   INTEGER NOT NULL,
    connection_id TEXT    NOT NULL,
    first_run     INTEGER NOT NULL,
    last_run      INTEGER NOT NULL,
    PRIMARY KEY (asset_id, ip_id, since)
) WITHOUT ROWID;
CREATE INDEX ip_leases_by_ip ON ip_leases (ip_id, since);
