//! The identity service: HTTP API, event store, projections and their
//! wiring. `main.rs` only parses the command line and calls into here.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod backoff;
pub mod bootstrap;
pub mod breaker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cooldown;
pub mod email;
pub mod error;
pub mod feed;
pub mod history;
pub mod http;
pub mod instruments;
pub mod monitor;
pub mod oauth_clients;
pub mod oidc;
pub mod program;
pub mod ratelimit;
pub mod read_cache;
pub mod refusals;
pub mod relay;
pub mod sms;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
