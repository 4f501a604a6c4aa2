//! Helpers shared by the integration tests' modules.

pub mod vectors;
