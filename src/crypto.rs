//! One TLS crypto stack for the whole gateway: ring, the provider pingora's rustls uses. The
//! CRM client of the `upstream` users backend (reqwest, built without a provider of its own)
//! takes the process default, which this installs.

/// Makes ring the process-wide rustls provider (once; later calls do nothing).
pub fn use_ring() {
    // An error means a provider is installed already, which is all this needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
