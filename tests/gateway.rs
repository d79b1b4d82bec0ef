//! One test binary for every black-box test: each module drives the real `crmgate` binary (or
//! the server in-process) over real HTTP. One binary links once, which keeps the build small.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod admin_api_access;
mod admin_api_audit;
mod admin_api_conflicts;
mod admin_api_file;
mod admin_api_icons;
mod admin_api_invalid;
mod admin_api_jwt;
mod admin_api_lifecycle;
mod admin_api_me;
mod admin_api_routes;
mod admin_browser;
mod attack_http;
mod attack_oauth;
mod authlib;
mod authlib_code;
mod authorization_code;
mod authorize_binding;
mod authorize_codes;
mod authorize_pages;
mod authorize_pkce;
mod authorize_redirects;
mod authorize_refresh;
mod authorize_users;
mod chromium;
mod client_credentials;
mod config_examples;
mod config_faults;
mod cors;
mod crash_durable;
mod crash_kill;
mod crm_faults;
mod demo_walkthrough;
mod disk_faults;
mod expiry;
mod icon_paths;
mod listener;
mod live_reload;
mod operator_faults;
mod outside_proxy;
mod private_key_jwt;
mod private_key_jwt_claims;
mod proxy_identity;
mod proxy_scope;
mod real_crm;
mod redis_sentinel;
mod response_hygiene;
mod revocation;
mod several_gateways;
mod several_gateways_walkthrough;
mod shared_registry;
mod store_backends;
mod store_corrupt;
mod store_corrupt_cases;
mod store_integrity;
mod upstream_faults;
mod upstream_users;
mod zlib_stand_in;
