//! Grant types of the token endpoint, one file each.

pub mod client_credentials;
