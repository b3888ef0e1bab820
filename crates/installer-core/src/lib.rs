//! installer-core: all of `installer`'s logic. Frontends (the CLI, the C ABI) parse input,
//! call into this crate and format what comes back; this crate never prints.
//!
//! See ARCHITECTURE.md at the repository root for the map of the modules.

// System calls go through safe wrappers (std, rustix); unsafe code lives only in installer-ffi.
#![forbid(unsafe_code)]
// Every public item says why it exists (STYLE.md); CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

mod bytecode;
pub mod cache;
pub mod cache_admin;
pub mod cancel;
mod compile;
pub mod config;
pub mod doctor;
pub mod error;
pub mod install;
pub mod installed;
pub mod linker;
pub mod manifest;
mod pause;
pub mod platform;
pub mod reporter;
pub mod requirements;
pub mod script;
pub mod shards;
pub mod target;
#[cfg(test)]
mod testing;
mod transaction;
pub mod uninstall;
pub mod units;
pub mod venv;
pub mod verify;
pub mod wheel;

pub use cancel::Cancel;
pub use error::{Error, Result};
pub use install::{install, install_into, InstallOptions, InstallSummary, MAX_JOBS};
pub use linker::{ConcreteLinkMode, LinkFallback, LinkMode};
pub use reporter::{NoReporter, Reporter};
