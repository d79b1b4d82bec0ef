//! Group commit: writers wait for a flush that started after their write, and one flush serves
//! every writer that arrived while the previous one ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::watch;

use super::StoreError;

/// How far flushing has got: writes numbered up to `ok` are durable; up to `failed` were lost.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    ok: u64,
    failed: u64,
}

/// Hands durability requests to one flushing thread; dropping it stops and joins the thread.
pub struct Flusher {
    requested: Arc<AtomicU64>,
    wake: Option<mpsc::Sender<()>>,
    progress: watch::Receiver<Progress>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flushing thread; `flush` makes every earlier write durable.
    pub fn start<F>(flush: F) -> std::io::Result<Self>
    where
        F: Fn() -> Result<(), String> + Send + 'static,
    {
        let requested = Arc::new(AtomicU64::new(0));
        let (wake, wake_rx) = mpsc::channel::<()>();
        let (tx, progress) = watch::channel(Progress::default());
        let seen = requested.clone();
        let thread = std::thread::Builder::new()
            .name("crmgate-flush".into())
            .spawn(move || run(flush, &seen, &wake_rx, &tx))?;
        Ok(Self {
            requested,
            wake: Some(wake),
            progress,
            thread: Some(thread),
        })
    }

    /// Returns once every write made before this call is durable.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.progress.clone();
        if self.wake.as_ref().is_none_or(|w| w.send(()).is_err()) {
            return Err(StoreError::Flush("flush thread stopped".into()));
        }
        loop {
            let p = *rx.borrow_and_update();
            if p.ok >= ticket {
                return Ok(());
            }
            if p.failed >= ticket {
                return Err(StoreError::Flush("the write was not persisted".into()));
            }
            if rx.changed().await.is_err() {
                return Err(StoreError::Flush("flush thread stopped".into()));
            }
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.wake.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run<F>(flush: F, requested: &AtomicU64, wake: &mpsc::Receiver<()>, tx: &watch::Sender<Progress>)
where
    F: Fn() -> Result<(), String>,
{
    while wake.recv().is_ok() {
        while wake.try_recv().is_ok() {}
        let target = requested.load(Ordering::SeqCst);
        match flush() {
            Ok(()) => tx.send_modify(|p| p.ok = p.ok.max(target)),
            Err(e) => {
                tracing::error!(error = %e, "token store flush failed");
                tx.send_modify(|p| p.failed = p.failed.max(target));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counter = flushes.clone();
        let f = Flusher::start(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            Ok(())
        })
        .unwrap();
        let f = Arc::new(f);
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move { f.sync().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!((1..200).contains(&n), "{n} flushes for 200 writers");
    }

    #[tokio::test]
    async fn a_failed_flush_is_reported() {
        let f = Flusher::start(|| Err("disk full".into())).unwrap();
        assert!(f.sync().await.is_err());
    }
}
