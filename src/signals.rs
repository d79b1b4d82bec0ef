//! Unix signals of `crmgate serve` and `crmgate demo`: SIGHUP re-reads `apps.toml` and
//! `users.toml` through the live reload path (validated; a bad file is not applied), SIGTERM and
//! SIGQUIT stop gracefully (in-flight requests get `shutdown_grace_seconds`), SIGINT stops at
//! once. The handlers are installed first thing, before any file is read, so no signal meets its
//! default action (for SIGHUP: killing the process) while the gateway starts or serves.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};

use crate::gateway::Gateway;

/// The signal handlers could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the signal handlers: {0}")]
pub struct SignalError(#[from] io::Error);

/// How a stop signal asks the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGTERM, SIGQUIT: stop accepting, let in-flight requests finish within the grace period.
    Graceful,
    /// SIGINT: stop now.
    Fast,
}

/// The installed handlers. Give them the gateway once it is built ([`Self::attach`]) and their
/// stop watch to the server ([`Self::shutdown_watch`]).
pub struct Signals {
    attach: mpsc::UnboundedSender<Arc<Gateway>>,
    stop: watch::Receiver<Option<Stop>>,
}

impl Signals {
    /// Installs the handlers on a thread of their own; returns once they are in place.
    pub fn install() -> Result<Self, SignalError> {
        let (attach, attached) = mpsc::unbounded_channel();
        let (stop_tx, stop) = watch::channel(None);
        let (ready_tx, ready) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build();
                let runtime = match runtime {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Handlers::register() {
                        Ok(h) => {
                            let _ = ready_tx.send(Ok(()));
                            h.run(attached, stop_tx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        ready
            .recv()
            .map_err(|_| io::Error::other("the signal thread ended"))??;
        Ok(Self { attach, stop })
    }

    /// From now on SIGHUP reloads `gw`'s apps and users; a SIGHUP that came during start-up is
    /// acted on now.
    pub fn attach(&self, gw: Arc<Gateway>) {
        let _ = self.attach.send(gw);
    }

    /// What the server waits on to stop: the next SIGTERM, SIGQUIT or SIGINT.
    pub fn shutdown_watch(&self) -> Box<dyn ShutdownSignalWatch> {
        Box::new(StopWatch(self.stop.clone()))
    }
}

/// The signal streams, registered with the OS.
struct Handlers {
    hup: Signal,
    term: Signal,
    quit: Signal,
    int: Signal,
}

impl Handlers {
    fn register() -> io::Result<Self> {
        Ok(Self {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn run(
        mut self,
        mut attached: mpsc::UnboundedReceiver<Arc<Gateway>>,
        stop: watch::Sender<Option<Stop>>,
    ) {
        let mut gateway: Option<Arc<Gateway>> = None;
        let mut hup_pending = false;
        loop {
            tokio::select! {
                Some(gw) = attached.recv(), if gateway.is_none() => {
                    if std::mem::take(&mut hup_pending) {
                        reload(&gw);
                    }
                    gateway = Some(gw);
                }
                Some(()) = self.hup.recv() => match &gateway {
                    Some(gw) => reload(gw),
                    None => hup_pending = true,
                },
                Some(()) = self.term.recv() => request(&stop, Stop::Graceful, "SIGTERM"),
                Some(()) = self.quit.recv() => request(&stop, Stop::Graceful, "SIGQUIT"),
                Some(()) = self.int.recv() => request(&stop, Stop::Fast, "SIGINT"),
                else => return,
            }
        }
    }
}

fn reload(gw: &Gateway) {
    gw.directory.reload_on_signal_and_log(&gw.metrics);
}

fn request(stop: &watch::Sender<Option<Stop>>, how: Stop, name: &str) {
    match how {
        Stop::Graceful => tracing::info!("{name}: stopping gracefully"),
        Stop::Fast => tracing::info!("{name}: stopping now"),
    }
    // The first request wins: a graceful stop under way is not turned into another one.
    stop.send_if_modified(|current| current.is_none() && current.replace(how).is_none());
}

/// The server's side of the stop requests.
struct StopWatch(watch::Receiver<Option<Stop>>);

#[async_trait]
impl ShutdownSignalWatch for StopWatch {
    async fn recv(&self) -> ShutdownSignal {
        let mut rx = self.0.clone();
        let how = rx.wait_for(Option::is_some).await.ok().and_then(|v| *v);
        match how {
            Some(Stop::Graceful) => ShutdownSignal::GracefulTerminate,
            Some(Stop::Fast) => ShutdownSignal::FastShutdown,
            None => {
                tracing::error!("the signal handlers stopped: stopping the gateway");
                ShutdownSignal::FastShutdown
            }
        }
    }
}
