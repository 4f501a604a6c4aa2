//! The oracle's integration tests: one binary (see `Cargo.toml`), one module per area.

mod pg_cluster;
mod pg_tls;
mod support;

mod api;
mod changes;
mod cli;
mod conformance;
mod crash;
mod evidence;
mod exposure;
mod fault;
mod hardening;
mod hostility;
mod ingest;
mod jetton_payload;
mod operators;
mod quorum;
mod replicas;
mod shared;
mod ton_labels;
