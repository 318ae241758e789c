//! API tests: the real server on a random port, a fresh Postgres database
//! per test, and a real SMTP sink on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod cli;
mod compression;
mod concurrency;
mod contract;
mod conversions;
mod durability;
mod embedded;
mod enumeration;
mod errors;
mod events_feed;
mod faults;
mod fuzz;
mod helpers;
mod history;
mod hostile_input;
mod http_contract;
mod identifiers;
mod influencer;
mod keys;
mod leaving;
mod lifecycle;
mod lockout;
mod log_order;
mod metrics;
mod mfa;
mod migrations;
mod multi_instance;
mod nats;
mod oauth;
mod oidc;
mod openapi;
mod optional_parts;
mod password_reset;
mod passwordless;
mod phone;
mod profile;
mod projection_failures;
mod projections;
mod query_plans;
mod rate_limits;
mod refresh;
mod relay;
mod security_headers;
mod session_revocation;
mod settings;
mod shutdown;
mod sms;
mod smtp;
mod store_conformance;
mod tcp_proxy;
mod traces;
mod verification;
