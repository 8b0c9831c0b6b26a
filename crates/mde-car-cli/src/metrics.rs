//! `mde-car daemon --metrics ADDRESS`: Prometheus metrics of the daemon's runs, from the same
//! events and run records the app shows (OpenMetrics text through `prometheus-client`, served
//! at `/metrics` by axum). Connections are labelled by name, as an operator knows them.
//!
//! - `mde_car_runs_total{connection,status}`: runs (and attempts that could not start) by
//!   how they ended;
//! - `mde_car_run_duration_seconds{connection}`: how long recorded runs took;
//! - `mde_car_api_calls_total{connection,endpoint}`: Defender and Entra ID calls per endpoint;
//! - `mde_car_throttled_total{connection,by}` and `mde_car_throttled_seconds_total{connection}`:
//!   waits for a rate budget (`by` is `service` for a 429, `client` for our own budget), and
//!   their total time;
//! - `mde_car_devices`, `mde_car_alerts`, `mde_car_ip_addresses`,
//!   `mde_car_vulnerabilities` `{connection}`: active items after the last run;
//! - `mde_car_connection_failing{connection}`: 1 while the connection is failing (as
//!   `mde-car status` says), else 0.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use mde_car_core::{ConnectionStatus, ConnectionView, model::RunStatus};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabel {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    connection: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    connection: String,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabels {
    connection: String,
    by: String,
}

type F64Gauge = Gauge<f64, std::sync::atomic::AtomicU64>;
type F64Counter = Counter<f64, std::sync::atomic::AtomicU64>;

fn duration_histogram() -> Histogram {
    // 1 s to about 9 hours: a small tenant's incremental run to a huge first sync.
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

/// The daemon's metrics, updated from its events.
pub(crate) struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    durations: Family<ConnectionLabel, Histogram, fn() -> Histogram>,
    api_calls: Family<EndpointLabels, Counter>,
    throttled: Family<ThrottleLabels, Counter>,
    throttled_seconds: Family<ConnectionLabel, F64Counter>,
    devices: Family<ConnectionLabel, Gauge>,
    alerts: Family<ConnectionLabel, Gauge>,
    ip_addresses: Family<ConnectionLabel, Gauge>,
    vulnerabilities: Family<ConnectionLabel, Gauge>,
    failing: Family<ConnectionLabel, F64Gauge>,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mde_car");
        let runs = Family::default();
        registry.register(
            "runs",
            "Sync runs and attempts by how they ended",
            runs.clone(),
        );
        let durations =
            Family::<ConnectionLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram as fn() -> Histogram,
            );
        registry.register(
            "run_duration_seconds",
            "How long recorded sync runs took",
            durations.clone(),
        );
        let api_calls = Family::default();
        registry.register(
            "api_calls",
            "Defender and Entra ID calls per endpoint",
            api_calls.clone(),
        );
        let throttled = Family::default();
        registry.register(
            "throttled",
            "Waits for a rate budget (by the service's 429 or the client's own budget)",
            throttled.clone(),
        );
        let throttled_seconds = Family::default();
        registry.register(
            "throttled_seconds",
            "Time recorded runs spent waiting for rate budgets",
            throttled_seconds.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<ConnectionLabel, Gauge>::default();
            registry.register(name, help, family.clone());
            family
        };
        let devices = gauge(&mut registry, "devices", "Active devices");
        let alerts = gauge(&mut registry, "alerts", "Active alerts");
        let ip_addresses = gauge(&mut registry, "ip_addresses", "Active IP addresses");
        let vulnerabilities = gauge(
            &mut registry,
            "vulnerabilities",
            "Active device vulnerabilities",
        );
        let failing = Family::default();
        registry.register(
            "connection_failing",
            "1 while the connection is failing (last run failed, test failed or invalid settings)",
            failing.clone(),
        );
        Metrics {
            registry,
            runs,
            durations,
            api_calls,
            throttled,
            throttled_seconds,
            devices,
            alerts,
            ip_addresses,
            vulnerabilities,
            failing,
        }
    }

    /// The connection's standing figures (counts, failing), at start and after each run.
    pub(crate) fn set_connection(&self, view: &ConnectionView) {
        let label = ConnectionLabel {
            connection: view.connection.name.clone(),
        };
        let counts = view.counts.unwrap_or_default();
        let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.devices
            .get_or_create(&label)
            .set(as_gauge(counts.devices));
        self.alerts
            .get_or_create(&label)
            .set(as_gauge(counts.alerts));
        self.ip_addresses
            .get_or_create(&label)
            .set(as_gauge(counts.ip_addresses));
        self.vulnerabilities
            .get_or_create(&label)
            .set(as_gauge(counts.vulnerabilities));
        let failing = view.status == ConnectionStatus::Error || !view.problems.is_empty();
        self.failing
            .get_or_create(&label)
            .set(if failing { 1.0 } else { 0.0 });
    }

    /// A run or attempt ended: its status, and from its record (when it has one) its calls,
    /// duration and throttling.
    pub(crate) fn run_finished(
        &self,
        view: &ConnectionView,
        run_id: Option<i64>,
        status: RunStatus,
    ) {
        let connection = view.connection.name.clone();
        self.runs
            .get_or_create(&RunLabels {
                connection: connection.clone(),
                status: status.key().to_owned(),
            })
            .inc();
        let record = view
            .last_run
            .as_ref()
            .filter(|run| run_id.is_some_and(|id| id == run.id));
        if let Some(run) = record {
            for (endpoint, calls) in &run.api_calls {
                self.api_calls
                    .get_or_create(&EndpointLabels {
                        connection: connection.clone(),
                        endpoint: endpoint.clone(),
                    })
                    .inc_by(*calls);
            }
            let label = ConnectionLabel { connection };
            #[allow(clippy::cast_precision_loss)] // milliseconds well inside f64's integers
            self.throttled_seconds
                .get_or_create(&label)
                .inc_by(run.throttled_ms as f64 / 1000.0);
            if let Some(finished) = run.finished_at {
                let took = (finished - run.started_at).num_milliseconds().max(0);
                #[allow(clippy::cast_precision_loss)]
                self.durations
                    .get_or_create(&label)
                    .observe(took as f64 / 1000.0);
            }
        }
        self.set_connection(view);
    }

    pub(crate) fn throttled(&self, connection: &str, by_service: bool) {
        self.throttled
            .get_or_create(&ThrottleLabels {
                connection: connection.to_owned(),
                by: if by_service { "service" } else { "client" }.to_owned(),
            })
            .inc();
    }

    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Serves `/metrics` at `address` until `stop`; returns the address bound (port 0 picks one).
pub(crate) async fn serve(
    metrics: Arc<Metrics>,
    address: SocketAddr,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("--metrics {address}: the address cannot be listened on"))?;
    let bound = listener
        .local_addr()
        .context("--metrics: the bound address")?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = Arc::clone(&metrics);
            async move {
                match metrics.encode() {
                    Ok(text) => (
                        axum::http::StatusCode::OK,
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    ),
                    Err(_) => (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; charset=utf-8",
                        )],
                        "the metrics could not be encoded".to_owned(),
                    ),
                }
            }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "the metrics endpoint stopped");
        }
    });
    Ok(bound)
}
