//! The population drawing moved to [`crate::core::population`] so the tcp backend can
//! share it; re-exported here so `sim::population` paths keep working.

pub use crate::core::population::*;
