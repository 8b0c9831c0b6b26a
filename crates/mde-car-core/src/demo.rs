//! The demo tenant: the bundled simulator (`mde-sim`), started in-process on 127.0.0.1 when a
//! demo connection is first used. Its seed is fixed, so its tenant, client and secret are the
//! same at every start and the stored demo connection keeps working across restarts; only the
//! port changes, which is why demo connections resolve their hosts here and not from settings.
//!
//! This is the only production use of the simulator, and it is built only with the `demo`
//! feature (on in the shipped CLI and app): without it [`DemoTenant::ensure_running`] answers
//! [`DemoError::NotBuilt`], and the rest of the core neither links nor reaches the fake.

#[cfg(feature = "demo")]
use tokio::sync::Mutex;

use crate::config::Endpoints;

/// The demo tenant could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo tenant could not start: {0}")]
    Start(String),
    #[error(
        "the demo tenant could not start: this build of mde-car has no bundled simulator (built without the `demo` feature)"
    )]
    NotBuilt,
}

type Result<T, E = DemoError> = std::result::Result<T, E>;

/// Seed of the demo tenant's generated data and credentials.
#[cfg(feature = "demo")]
const DEMO_SEED: u64 = 20_261_128;
/// Devices in the demo tenant: enough to look real, small enough to start instantly.
#[cfg(feature = "demo")]
const DEMO_DEVICES: usize = 500;

/// Identity and hosts of the running demo tenant.
#[derive(Clone)]
pub(crate) struct DemoIdentity {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub endpoints: Endpoints,
}

/// The simulator, started on demand and kept for the life of the process.
#[derive(Default)]
pub(crate) struct DemoTenant {
    #[cfg(feature = "demo")]
    sim: Mutex<Option<mde_sim::Sim>>,
}

#[cfg(not(feature = "demo"))]
impl DemoTenant {
    pub(crate) async fn ensure_running(&self) -> Result<DemoIdentity> {
        Err(DemoError::NotBuilt)
    }

    pub(crate) async fn running_endpoints(&self) -> Option<Endpoints> {
        None
    }
}

#[cfg(feature = "demo")]
impl DemoTenant {
    pub(crate) async fn ensure_running(&self) -> Result<DemoIdentity> {
        let mut sim = self.sim.lock().await;
        if sim.is_none() {
            let config = mde_sim::SimConfig {
                devices: DEMO_DEVICES,
                seed: DEMO_SEED,
                ..mde_sim::SimConfig::default()
            };
            let started = mde_sim::Sim::start(config)
                .await
                .map_err(|error| DemoError::Start(format!("{error:#}")))?;
            tracing::info!(url = %started.url(), "demo tenant started");
            *sim = Some(started);
        }
        let sim = sim
            .as_ref()
            .ok_or_else(|| DemoError::Start("the simulator did not start".to_owned()))?;
        Ok(DemoIdentity {
            tenant_id: sim.tenant_id(),
            client_id: sim.client_id(),
            client_secret: sim.client_secret(),
            endpoints: endpoints_of(sim),
        })
    }

    /// The hosts of the simulator if it is running.
    pub(crate) async fn running_endpoints(&self) -> Option<Endpoints> {
        self.sim.lock().await.as_ref().map(endpoints_of)
    }
}

#[cfg(feature = "demo")]
fn endpoints_of(sim: &mde_sim::Sim) -> Endpoints {
    // The simulator accepts the real resources, so the demo signs in exactly as production.
    let commercial = crate::config::Cloud::Commercial.endpoints();
    Endpoints {
        authority: sim.authority(),
        api_base: sim.api_base(),
        resource: commercial.resource,
        graph_base: sim.url(),
        graph_resource: commercial.graph_resource,
    }
}
