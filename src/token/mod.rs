//! Tokens: scope type, records and token strings, and the service that issues, checks, rotates
//! and revokes them, with authorization codes and grants.

pub mod cache;
pub mod codes;
pub mod grants;
pub mod record;
pub mod refresh;
pub mod scope;
pub mod service;
pub mod tally;

#[cfg(test)]
mod flow_tests;
