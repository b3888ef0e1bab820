//! Step 1 of an install: the verified cache entry of every wheel. Entries found through the
//! index cost a `stat` and a manifest read; the rest are counted first (wheels and archive
//! bytes, so a frontend can show a real bar from the start) and then unpacked in parallel.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::cache::{Cache, CacheEntry, Lookup};
use crate::cancel::Cancel;
use crate::reporter::{Event, Reporter};
use crate::target::{requires_python, TargetPython};
use crate::Result;

/// The entry of each of `wheels`, in order. Reports [`Event::Unpacking`] once (only when
/// something must be unpacked), the wheel and byte events of each unpack, and one
/// [`Event::CacheEntry`] per wheel. Stops with [`crate::Error::Cancelled`] once `cancel` is.
/// `ready` is called with each entry as soon as it is found or unpacked (on the thread that
/// did it), so work on it can start while others unpack.
/// Refuses a wheel whose `Requires-Python` excludes `python` (`None`: not checked), before
/// `ready` sees it.
/// Records the use of every entry, found or unpacked, in one append to the cache's usage log.
pub(crate) fn cache_all(
    wheels: &[PathBuf],
    cache: &Cache,
    python: Option<&TargetPython>,
    reporter: &dyn Reporter,
    cancel: &Cancel,
    ready: &(dyn Fn(&CacheEntry) -> Result<()> + Sync),
) -> Result<Vec<CacheEntry>> {
    let lookups: Vec<Lookup> = wheels
        .par_iter()
        .map(|wheel| {
            cancel.check()?;
            cache.lookup(wheel)
        })
        .collect::<Result<_>>()?;
    let (count, bytes) = lookups
        .iter()
        .filter_map(|l| match l {
            Lookup::Miss(miss) => Some(miss.size()),
            Lookup::Hit(_) => None,
        })
        .fold((0, 0), |(n, total), size| (n + 1, total + size));
    if count > 0 {
        reporter.event(Event::Unpacking { wheels: count, bytes });
    }
    let entries: Vec<CacheEntry> = lookups
        .into_par_iter()
        .zip(wheels)
        .map(|(lookup, wheel)| {
            cancel.check()?;
            let entry = match lookup {
                Lookup::Hit(entry) => entry,
                Lookup::Miss(miss) => {
                    for entry in miss.untrusted() {
                        reporter.event(Event::UntrustedLayerEntry { wheel, entry });
                    }
                    reporter.event(Event::UnpackingWheel { wheel, bytes: miss.size() });
                    let entry =
                        cache.unpack(miss, &|bytes| reporter.event(Event::UnpackedBytes { bytes }), cancel)?;
                    reporter.event(Event::UnpackedWheel { wheel });
                    entry
                }
            };
            reporter.event(Event::CacheEntry { wheel, entry: entry.dir(), unpacked: entry.was_unpacked() });
            if let Some(python) = python {
                requires_python::check(wheel, &entry, python, reporter)?;
            }
            ready(&entry)?;
            if let Some(version) = &entry.manifest().newer_wheel_version {
                reporter.warning(&format!(
                    "{}: installing from a newer Wheel-Version ({version}) than this installer implements ({})",
                    wheel.display(),
                    crate::wheel::metadata::WHEEL_VERSION.map(|n| n.to_string()).join(".")
                ));
            }
            Ok(entry)
        })
        .collect::<Result<_>>()?;
    cache.record_use(entries.iter().map(CacheEntry::id));
    Ok(entries)
}
