//! The request log: every call the simulator answered, in order. Tests and benchmarks count
//! API calls here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::faults::FaultKind;

/// Which endpoint a request hit; the unit of counters, rate limits and fault targeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `POST /{tenant}/oauth2/token` and `/{tenant}/oauth2/v2.0/token`.
    Token,
    /// `GET /api/machines` (and `/api/machines/$count`).
    Machines,
    /// `GET /api/machines/{id}`.
    Machine,
    /// `GET /api/machines/{id}/logonusers`.
    LogonUsers,
    /// `GET /api/machines/findbyip(ip='…',timestamp=…)`.
    FindByIp,
    /// `GET /api/machines/findbytag?tag=…&useStartsWithFilter=…`.
    FindByTag,
    /// `GET /api/machines/{id}/alerts`.
    MachineAlerts,
    /// `GET /api/machines/{id}/vulnerabilities`.
    MachineVulnerabilities,
    /// `GET /api/alerts` (and `/api/alerts/$count`).
    Alerts,
    /// `GET /api/alerts/{id}`.
    Alert,
    /// `GET /api/alerts/{id}/machine`.
    AlertMachine,
    /// `GET /api/vulnerabilities`.
    Vulnerabilities,
    /// `GET /api/vulnerabilities/machinesVulnerabilities`.
    MachinesVulnerabilities,
    /// `GET /api/machines/SoftwareVulnerabilitiesByMachine`.
    VulnerabilitiesExport,
    /// `GET /api/machines/SoftwareVulnerabilityChangesByMachine`.
    VulnerabilityChangesExport,
    /// `POST /api/advancedqueries/run` (legacy, being retired).
    AdvancedQueries,
    /// Graph `POST /v1.0/security/runHuntingQuery`.
    GraphHunting,
    /// Anything else (404).
    Unknown,
}

impl Endpoint {
    pub const ALL: [Endpoint; 18] = [
        Endpoint::Token,
        Endpoint::Machines,
        Endpoint::Machine,
        Endpoint::LogonUsers,
        Endpoint::FindByIp,
        Endpoint::FindByTag,
        Endpoint::MachineAlerts,
        Endpoint::MachineVulnerabilities,
        Endpoint::Alerts,
        Endpoint::Alert,
        Endpoint::AlertMachine,
        Endpoint::Vulnerabilities,
        Endpoint::MachinesVulnerabilities,
        Endpoint::VulnerabilitiesExport,
        Endpoint::VulnerabilityChangesExport,
        Endpoint::AdvancedQueries,
        Endpoint::GraphHunting,
        Endpoint::Unknown,
    ];

    /// The name used on the command line (`--fault 500@machines`).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Machines => "machines",
            Endpoint::Machine => "machine",
            Endpoint::LogonUsers => "logonusers",
            Endpoint::FindByIp => "findbyip",
            Endpoint::FindByTag => "findbytag",
            Endpoint::MachineAlerts => "machine-alerts",
            Endpoint::MachineVulnerabilities => "machine-vulnerabilities",
            Endpoint::Alerts => "alerts",
            Endpoint::Alert => "alert",
            Endpoint::AlertMachine => "alert-machine",
            Endpoint::Vulnerabilities => "vulnerabilities",
            Endpoint::MachinesVulnerabilities => "machines-vulnerabilities",
            Endpoint::VulnerabilitiesExport => "export",
            Endpoint::VulnerabilityChangesExport => "delta-export",
            Endpoint::AdvancedQueries => "advanced-queries",
            Endpoint::GraphHunting => "graph-hunting",
            Endpoint::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.name().eq_ignore_ascii_case(name))
    }
}

/// One answered request.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// 0-based position in the log.
    pub seq: u64,
    /// Simulated time of arrival.
    pub at: DateTime<Utc>,
    pub method: String,
    /// The path as sent (not decoded).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub endpoint: Endpoint,
    pub status: u16,
    /// The app that called (from the bearer token, or the token request's client_id).
    pub client_id: Option<String>,
    /// Faults injected into this answer.
    pub faults: Vec<FaultKind>,
    /// The body of a POST to an API (the hunting query); token request bodies are not kept.
    pub body: Option<String>,
}

impl RequestRecord {
    /// A decoded query parameter, matched case-insensitively (`$filter`, `$top`, …).
    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.into_owned())
    }
}

/// Handle on the log; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    inner: Arc<Mutex<Vec<RequestRecord>>>,
}

impl Requests {
    pub(crate) fn push(&self, mut record: RequestRecord) {
        let mut log = self.inner.lock().expect("request log poisoned");
        record.seq = log.len() as u64;
        log.push(record);
    }

    /// Every record, oldest first.
    pub fn all(&self) -> Vec<RequestRecord> {
        self.inner.lock().expect("request log poisoned").clone()
    }

    /// Records of one endpoint.
    pub fn of(&self, endpoint: Endpoint) -> Vec<RequestRecord> {
        self.all()
            .into_iter()
            .filter(|record| record.endpoint == endpoint)
            .collect()
    }

    /// Number of requests to one endpoint.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.inner
            .lock()
            .expect("request log poisoned")
            .iter()
            .filter(|record| record.endpoint == endpoint)
            .count()
    }

    /// Requests per endpoint.
    pub fn counts(&self) -> BTreeMap<Endpoint, usize> {
        let mut counts = BTreeMap::new();
        for record in self.inner.lock().expect("request log poisoned").iter() {
            *counts.entry(record.endpoint).or_insert(0) += 1;
        }
        counts
    }

    /// Requests to the API (everything but the token endpoint).
    pub fn api_calls(&self) -> usize {
        self.inner
            .lock()
            .expect("request log poisoned")
            .iter()
            .filter(|record| record.endpoint != Endpoint::Token)
            .count()
    }

    pub fn total(&self) -> usize {
        self.inner.lock().expect("request log poisoned").len()
    }

    pub fn last(&self) -> Option<RequestRecord> {
        self.inner
            .lock()
            .expect("request log poisoned")
            .last()
            .cloned()
    }

    /// Forgets everything logged so far (counters restart at zero).
    pub fn clear(&self) {
        self.inner.lock().expect("request log poisoned").clear();
    }
}
