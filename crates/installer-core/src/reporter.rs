//! The one way progress and warnings leave the core. The core never prints: the CLI draws a
//! `Reporter` with indicatif, the FFI forwards it to C callbacks, tests record it.
//!
//! Progress comes in two phases, each announced before its first step, so a frontend never
//! shows an empty bar: unpacking wheels that are not in the cache yet ([`Event::Unpacking`],
//! counted in archive bytes), then placing files in the environment (`add_total`, then
//! `advance` per file; [`Event::Copied`] bytes when files are copied).

use std::path::Path;

use crate::install::Fallback;

/// A typed fact about an operation in progress. Frontends choose the words; nothing here is
/// prose or names a flag.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `wheels` archives, `bytes` in all, are not in the cache and will be unpacked now.
    Unpacking {
        /// The CLI counts [`Event::UnpackedWheel`]s against it.
        wheels: u64,
        /// The archives' file sizes summed: the bar's total, which [`Event::UnpackedBytes`]
        /// fills.
        bytes: u64,
    },
    /// Unpacking of `wheel` (an archive of `bytes`) began.
    UnpackingWheel {
        /// As the user gave it; the CLI shows its file name beside the bar.
        wheel: &'a Path,
        /// The archive's file size, as counted in [`Event::Unpacking`].
        bytes: u64,
    },
    /// `bytes` more archive bytes were read (decompressed, verified and written).
    UnpackedBytes {
        /// Compressed sizes of the members just unpacked; once the wheel is cached, one more
        /// event brings the rest of its archive (headers, central directory), so they add up
        /// to the size counted in [`Event::Unpacking`] and the bar ends full.
        bytes: u64,
    },
    /// `wheel` is in the cache now (the `UnpackingWheel` before it has ended).
    UnpackedWheel {
        /// As the user gave it, as in its [`Event::UnpackingWheel`].
        wheel: &'a Path,
    },
    /// A wheel's verified cache entry: `unpacked` by this run, or found.
    CacheEntry {
        /// As the user gave it.
        wheel: &'a Path,
        /// The entry's directory, in the cache or one of its layers; the CLI names it with
        /// `--verbose`.
        entry: &'a Path,
        /// False for a cache hit.
        unpacked: bool,
    },
    /// The environment did not exist and was created (after every wheel was verified), at
    /// `path` as the caller named it, with `python`.
    CreatedVenv {
        /// Not made absolute: the message repeats what the caller wrote.
        path: &'a Path,
        /// The interpreter the environment was made with; the CLI names its implementation
        /// and version.
        python: &'a crate::target::Interpreter,
    },
    /// Files are about to be placed: `files` in all; `copy_bytes` is what will be copied when
    /// the mode copies (0 otherwise).
    Placing {
        /// Every file to place, each wheel's RECORD included: what `advance` counts up to.
        files: u64,
        /// The sizes in the cache of the files to copy (written files, such as launchers, not
        /// counted). The CLI's bar counts bytes when it is not 0, files otherwise.
        copy_bytes: u64,
    },
    /// `bytes` more were copied into the environment (copy mode only).
    Copied {
        /// The size of one file just copied.
        bytes: u64,
    },
    /// The link mode cannot be used and files will be copied: sent once, when decided,
    /// before any file is placed, with the planned files and bytes.
    LinkFallback(&'a Fallback),
    /// A name given to uninstall is not installed; the others are still removed.
    NotInstalled {
        /// As the user gave it.
        name: &'a str,
    },
    /// A cache layer's entry for `wheel` failed the checks (see [`crate::cache::Untrusted`])
    /// and was not used; the wheel is unpacked instead.
    UntrustedLayerEntry {
        /// As the user gave it.
        wheel: &'a Path,
        /// Which entry, in which layer, and why it was refused.
        entry: &'a crate::cache::UntrustedEntry,
    },
    /// The cache at `cache` cannot be written by this user (another user's, a read-only
    /// mount): it is used read-only, as the first cache layer, and wheels not in it are
    /// unpacked into a temporary cache. Sent once, when the cache is opened.
    ReadOnlyCache {
        /// The cache's root, made absolute.
        cache: &'a Path,
        /// Why it cannot be written (`EACCES`, `EROFS`...).
        error: &'a std::io::Error,
    },
    /// After an install, the caches took more than `cache-max-size`: least recently used
    /// entries were evicted (sent only when the cap was exceeded).
    Evicted(&'a crate::cache_admin::Eviction),
}

/// Receives progress and warnings from any thread. Calls may come from rayon workers, so
/// implementations must be cheap and thread-safe; they are never made twice at once for one
/// call site, but may interleave across methods.
pub trait Reporter: Send + Sync {
    /// `files` more files are known to be part of this operation (the total may grow while
    /// wheels are still being read).
    fn add_total(&self, files: u64) {
        let _ = files;
    }
    /// `files` more files were installed (or removed).
    fn advance(&self, files: u64) {
        let _ = files;
    }
    /// A typed fact: phases, bytes, the link fallback (see [`Event`]).
    fn event(&self, event: Event<'_>) {
        let _ = event;
    }
    /// A warning for the user, already deduplicated: each is sent at most once per run.
    fn warning(&self, message: &str) {
        let _ = message;
    }
    /// What was done and why (link mode chosen), shown with `--verbose`.
    fn info(&self, message: &str) {
        let _ = message;
    }
}

/// Discards everything: for callers that want no output.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {}
