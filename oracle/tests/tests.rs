//! The oracle's integration tests: one binary (see `Cargo.toml`), one module per area.

mod support;

mod api;
mod changes;
mod cli;
mod crash;
mod evidence;
mod exposure;
mod fault;
mod hardening;
mod hostility;
mod ingest;
mod operators;
mod quorum;
mod ton_labels;
