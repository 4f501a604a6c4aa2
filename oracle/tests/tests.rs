//! The oracle's integration tests: one binary (see `Cargo.toml`), one module per area.

mod support;

mod api;
mod cli;
mod crash;
mod fault;
mod hardening;
mod hostility;
mod ingest;
mod operators;
mod quorum;
