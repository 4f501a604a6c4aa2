//! The oracle's integration tests: one binary (see `Cargo.toml`), one module per area.

mod pg_cluster;
mod support;

mod api;
mod cli;
mod conformance;
mod crash;
mod fault;
mod hardening;
mod ingest;
mod operators;
mod quorum;
mod replicas;
