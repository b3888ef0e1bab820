//! Wheel file names: `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl WheelFilename {
    /// Parses a file name (not a path).
    pub fn parse(file_name: &str) -> Result<Self, String> {
        let _ = file_name;
        todo!()
    }
}

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let _ = name;
    todo!()
}
