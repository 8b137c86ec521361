//! State shared by the HTTP server and the [`crate::Simulator`] handle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::watch;

use crate::config::SimConfig;
use crate::faults::Faults;
use crate::records::Recorder;
use crate::resources::Registry;
use crate::store::Store;
use crate::tls::Pki;

/// Everything the server and the handle share.
pub struct Shared {
    /// Configuration the simulator was started with.
    pub cfg: SimConfig,
    /// Bound address.
    pub addr: SocketAddr,
    /// Generated certificates (when serving TLS).
    pub pki: Option<Pki>,
    store: Mutex<Store>,
    /// Latest revision, published after every write (watches wait on it).
    rv_tx: watch::Sender<u64>,
    /// Injected faults.
    pub faults: Faults,
    /// Request log.
    pub records: Recorder,
    /// Open watch streams.
    open_watches: AtomicUsize,
    registry: RwLock<Registry>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The store can hold hundreds of thousands of objects: print a summary only.
        f.debug_struct("Shared")
            .field("addr", &self.addr)
            .field("cfg", &self.cfg)
            .field("open_watches", &self.open_watches())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Builds the shared state.
    pub fn new(cfg: SimConfig, addr: SocketAddr, pki: Option<Pki>) -> Self {
        let store = Store::new(cfg.history_limit);
        let records = Recorder::new(cfg.request_log_limit);
        Self {
            cfg,
            addr,
            pki,
            store: Mutex::new(store),
            rv_tx: watch::Sender::new(0),
            faults: Faults::default(),
            records,
            open_watches: AtomicUsize::new(0),
            registry: RwLock::new(Registry::default()),
        }
    }

    /// Locks the store for reading. Never hold the guard across an `.await`.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write against the store and wakes watches if the revision moved.
    pub fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let (result, rv) = {
            let mut store = self.store();
            let result = f(&mut store);
            (result, store.rv())
        };
        self.rv_tx.send_if_modified(|current| {
            if *current == rv {
                false
            } else {
                *current = rv;
                true
            }
        });
        result
    }

    /// Subscribes to revision changes.
    pub fn subscribe_rv(&self) -> watch::Receiver<u64> {
        self.rv_tx.subscribe()
    }

    /// The resource registry.
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The resource registry, for registration.
    pub fn registry_mut(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of open watches.
    pub fn open_watches(&self) -> usize {
        self.open_watches.load(Ordering::SeqCst)
    }

    /// Counts a watch as open until the guard is dropped.
    pub fn watch_guard(&self) -> WatchGuard<'_> {
        self.open_watches.fetch_add(1, Ordering::SeqCst);
        WatchGuard(&self.open_watches)
    }

    /// The address clients should use (`https://…` or `http://…`).
    pub fn url(&self) -> String {
        let scheme = if self.pki.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

/// Decrements the open-watch count when dropped.
pub struct WatchGuard<'a>(&'a AtomicUsize);

impl Drop for WatchGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
