//! newsledger watches news articles and keeps a tamper-evident record of
//! what they said and when.
//!
//! The modules follow the pipeline, in order:
//!
//! - [`canonical`]: the encodings the stages share (canonical JSON, hex SHA-256).
//! - [`config`]: the TOML configuration, parsed and validated into types.
//! - [`schedule`]: when each source fires (cron, time zones, DST).
//! - [`fetch`]: one bounded HTTP exchange per URL, conditional when possible.
//! - [`discover`]: article URLs from feeds, sitemaps and listings, with guards.
//! - [`extract`]: article text and metadata from a page (pure, no I/O).
//! - [`diff`]: normalization, per-field hashes, word diffs: what "changed" means.
//! - [`ledger`]: the append-only, hash-chained SQLite ledger; its one writer,
//!   the derived tables as a fold of the chain, its readers, and `verify`.
//! - [`service`]: the daemon: scheduler loop, cycles, shutdown.
//! - [`export`]: the ledger as JSON lines or WARC 1.1, for archives.
//! - [`present`]: what the command line, the web view and the logs show
//!   alike (escaping, counts, health problems).
//! - [`cli`]: the command line on top of all of the above.
//! - [`demo`]: an embedded local news site that changes between cycles.
//!
//! Lints: no `unwrap()` and no indexing that can panic outside tests (input
//! never panics the daemon); out-of-range access is an `Option` everywhere.
//! Each `expect()` left is allowed where it stands, with its reason (a
//! static regex, serializing a value we built, a signal handler at start).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod canonical;
pub mod cli;
pub mod config;
pub mod demo;
pub mod diff;
pub mod discover;
pub mod exchange;
pub mod export;
pub mod extract;
pub mod fetch;
pub mod identity;
pub mod ledger;
pub mod limits;
pub mod note;
pub mod present;
pub mod proof;
pub mod schedule;
pub mod service;
pub mod web;
pub mod x509;
