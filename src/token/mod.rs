//! Tokens: scope type, records and token strings, and the service that issues and checks them.

pub mod record;
pub mod scope;
pub mod service;
