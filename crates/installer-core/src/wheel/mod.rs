//! Reading and verifying wheels (packaging.python.org, "Binary distribution format").
//!
//! A wheel is refused unless its file name, `WHEEL`, its one `.dist-info` and its RECORD all
//! agree and every member's hash and size match RECORD. Checks run while decompressing, so a
//! hostile member is stopped before it fills the disk.

pub mod filename;
pub mod metadata;
pub mod record;
mod unpack;

pub use filename::{normalize_name, WheelFilename};
pub use unpack::{unpack_verified, Limits};

/// Why a wheel was refused. The caller wraps it in [`crate::Error::Wheel`], which names the
/// wheel file; these messages name the member.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("{0}")]
    Invalid(String),
}
