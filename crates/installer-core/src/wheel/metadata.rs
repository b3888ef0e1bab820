//! Parsers for the small text files of a `.dist-info`: `WHEEL`, `METADATA` (name and version
//! only) and `entry_points.txt`.

use serde::{Deserialize, Serialize};

/// A `console_scripts` or `gui_scripts` entry point: `name = module:object.attr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPoint {
    pub name: String,
    pub module: String,
    /// `object.attr` after the colon, if any.
    pub object: Option<String>,
    /// From `gui_scripts` rather than `console_scripts`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gui: bool,
}
