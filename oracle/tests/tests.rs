//! The oracle's integration tests: one binary (see `Cargo.toml`), one module per area.

mod support;

mod api;
mod cli;
mod crash;
mod exposure;
mod fault;
mod hardening;
mod ingest;
mod operators;
mod quorum;
