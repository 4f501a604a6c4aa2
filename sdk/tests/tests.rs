//! Integration tests of the wire format: one binary, one module per concern.

mod common;
mod compliant_cli;
mod compliant_vectors;
mod golden_vectors;
mod jetton_vectors;
mod roundtrip;
mod schema_drift;
mod verify_evidence_cli;
