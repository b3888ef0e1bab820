//! RECORD files (packaging.python.org, "Recording installed projects"): CSV of path, hash, size.
