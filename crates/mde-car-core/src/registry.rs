//! The runs this process is doing, and what outlives a run: each connection's Defender client
//! (so its token cache and rate budget span runs), the scheduler's wake-up and the count of
//! connection edits that ends the scheduler's backoffs.
//!
//! A run is registered by taking a [`RunGuard`]; dropping the guard unregisters it, however
//! the run's task ends — returned, failed, cancelled or panicked — so a connection can never be
//! left answering "already running". The registry is only this process's view: another
//! process's run is known by its run lock (`sync::running_elsewhere`).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::mde::{ClientOptions, MdeClient};

/// Runs in progress, cached clients, the scheduler's wake-up.
#[derive(Default)]
pub(crate) struct RunRegistry {
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
    /// Runs ended so far: the scheduler compares it around its read of the runs (a run that
    /// ended meanwhile may have been read still `running`).
    ended: Arc<AtomicU64>,
    /// One Defender client per connection; dropped when connections change.
    clients: Mutex<HashMap<String, MdeClient>>,
    /// Options of new Defender clients (tests and benchmarks shrink page sizes).
    client_options: Mutex<ClientOptions>,
    wake: Arc<Notify>,
    /// Connections whose next full run may take a much smaller device listing as true.
    accepted_shrinks: Mutex<HashSet<String>>,
    /// Connection edits so far (see [`RunRegistry::connections_edited`]).
    edits: AtomicU64,
}

/// A registered run: holds its cancel switch, and unregisters the run when dropped.
#[derive(Debug)]
pub(crate) struct RunGuard {
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
    ended: Arc<AtomicU64>,
    connection_id: String,
    cancel: CancellationToken,
}

impl RunGuard {
    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.connection_id);
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

/// A lock that a panic elsewhere poisoned still guards plain maps whose every update is one
/// call: their contents stay consistent, so the registry keeps working instead of wedging.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunRegistry {
    /// Registers a run of the connection; `None` when one is already registered.
    pub(crate) fn register(&self, connection_id: &str) -> Option<RunGuard> {
        let mut running = lock(&self.running);
        if running.contains_key(connection_id) {
            return None;
        }
        let cancel = CancellationToken::new();
        running.insert(connection_id.to_owned(), cancel.clone());
        Some(RunGuard {
            running: self.running.clone(),
            ended: self.ended.clone(),
            connection_id: connection_id.to_owned(),
            cancel,
        })
    }

    pub(crate) fn is_running(&self, connection_id: &str) -> bool {
        lock(&self.running).contains_key(connection_id)
    }

    /// How many runs of this process have ended (unregistered) so far.
    pub(crate) fn runs_ended(&self) -> u64 {
        self.ended.load(Ordering::SeqCst)
    }

    /// Asks the connection's run to stop; true when one was running here.
    pub(crate) fn cancel(&self, connection_id: &str) -> bool {
        let cancel = lock(&self.running).get(connection_id).cloned();
        cancel.map(|cancel| cancel.cancel()).is_some()
    }

    /// The connection's client, made by `make` (with the current options) the first time.
    pub(crate) fn client(
        &self,
        connection_id: &str,
        make: impl FnOnce(ClientOptions) -> MdeClient,
    ) -> MdeClient {
        let options = lock(&self.client_options).clone();
        lock(&self.clients)
            .entry(connection_id.to_owned())
            .or_insert_with(|| make(options))
            .clone()
    }

    /// The options a new client is made with.
    pub(crate) fn client_options(&self) -> ClientOptions {
        lock(&self.client_options).clone()
    }

    /// New options for the clients made from now on; the cached ones are dropped.
    pub(crate) fn set_client_options(&self, options: ClientOptions) {
        *lock(&self.client_options) = options;
        self.forget_clients();
    }

    /// Credentials or hosts may have changed: the next run builds a fresh client.
    pub(crate) fn forget_clients(&self) {
        lock(&self.clients).clear();
    }

    /// Wakes the scheduler, so it looks at the connections again now.
    pub(crate) fn wake_scheduler(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn scheduler_wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The user accepted that the connection's tenant shrank: its next full run may mark the
    /// devices a much smaller listing lacks as gone.
    pub(crate) fn accept_shrink(&self, connection_id: &str) {
        lock(&self.accepted_shrinks).insert(connection_id.to_owned());
    }

    /// Whether a shrink was accepted for the connection; the acceptance is used up.
    pub(crate) fn take_accepted_shrink(&self, connection_id: &str) -> bool {
        lock(&self.accepted_shrinks).remove(connection_id)
    }

    /// Counts an edit of the connections (here, or in the settings file by another process):
    /// the scheduler ends its backoffs when the count moves, since the edit may be the fix.
    pub(crate) fn connections_edited(&self) {
        self.edits.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn connection_edits(&self) -> u64 {
        self.edits.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::RunRegistry;

    #[test]
    fn a_run_is_unregistered_however_its_task_ends() {
        let registry = std::sync::Arc::new(RunRegistry::default());
        let guard = registry.register("c1");
        assert!(guard.is_some());
        assert!(registry.register("c1").is_none(), "one run per connection");
        drop(guard);
        assert!(!registry.is_running("c1"));

        // A panicking task drops its guard while unwinding.
        let panicking = {
            let registry = registry.clone();
            std::thread::spawn(move || {
                let _guard = registry.register("c1");
                panic!("a bug in a run");
            })
        };
        assert!(panicking.join().is_err());
        assert!(!registry.is_running("c1"));
        assert!(registry.register("c1").is_some());
    }

    #[test]
    fn cancel_reaches_the_registered_run_only() {
        let registry = RunRegistry::default();
        let guard = registry.register("c1").unwrap();
        assert!(!registry.cancel("other"));
        assert!(registry.cancel("c1"));
        assert!(guard.cancel_token().is_cancelled());
    }
}
