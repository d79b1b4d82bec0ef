//! crmgate: an OAuth 2.0 authorization gateway in front of a vtenext CRM's REST API.

pub mod access;
pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod fsutil;
pub mod gateway;
pub mod generate;
pub mod identity;
pub mod keys;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod oauth;
pub mod operations;
pub mod proxy;
pub mod registry;
pub mod response;
pub mod server;
pub mod signals;
pub mod store;
pub mod token;
pub mod users;
