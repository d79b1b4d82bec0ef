//! Log output: tracing to stderr as text or JSON lines; `RUST_LOG` overrides the configured level.
//! Nothing logs tokens or secrets: handlers log client ids, users and reasons only.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored (tests start several gateways).
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
