//! Which of the given wheels to install: the same file given twice counts once; of several
//! wheels of one distribution and version (a wheelhouse with builds for several platforms),
//! the one whose best tag the target prefers most, and of those the highest build tag, as pip
//! and uv choose; a wheel the target cannot run is refused,
//! and so are two versions of one distribution. Decided from file names alone, before any
//! archive is read or unpacked.

use std::path::{Path, PathBuf};

use super::{built_for, Rank, Target};
use crate::wheel::{normalize_name, WheelError, WheelFilename};
use crate::{Error, Result};

/// The outcome of [`select_wheels`].
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The wheels to install, in the order first given.
    pub wheels: Vec<PathBuf>,
    /// What was chosen or left out, and why (shown with `--verbose`).
    pub notes: Vec<String>,
}

/// One distribution and version, with every wheel given for it.
struct Group {
    name: String,
    version: String,
    /// Position of the first wheel in the command, wheel, parsed name.
    candidates: Vec<(usize, PathBuf, WheelFilename)>,
}

/// Chooses what to install of `wheels` for `target` (see the module doc). Refusals name the
/// wheel and say, in words, what it was built for and what the target is.
pub fn select_wheels(wheels: &[PathBuf], target: &Target) -> Result<Selection> {
    let mut selection = Selection::default();
    let mut seen_files: Vec<(u64, u64)> = Vec::with_capacity(wheels.len());
    let mut groups: Vec<Group> = Vec::new();
    for (position, wheel) in wheels.iter().enumerate() {
        // An sdist or a directory is named as such, not as a bad wheel file name.
        crate::wheel::check_is_wheel(wheel)?;
        // A file that cannot be read is refused when the cache reads it, naming it.
        if let Ok(identity) = crate::platform::file_id(wheel) {
            if seen_files.contains(&identity) {
                selection.notes.push(format!("{}: given twice, installed once", wheel.display()));
                continue;
            }
            seen_files.push(identity);
        }
        let filename = parse(wheel)?;
        let name = normalize_name(&filename.name);
        match groups.iter_mut().find(|g| g.name == name) {
            Some(group) if crate::wheel::versions_match(&group.version, &filename.version) => {
                group.candidates.push((position, wheel.clone(), filename));
            }
            Some(group) => {
                return Err(Error::TwoVersions {
                    name: filename.name.clone(),
                    wheels: Box::new([
                        (group.candidates[0].1.clone(), group.version.clone()),
                        (wheel.clone(), filename.version.clone()),
                    ]),
                });
            }
            None => groups.push(Group {
                name,
                version: filename.version.clone(),
                candidates: vec![(position, wheel.clone(), filename)],
            }),
        }
    }
    let mut chosen: Vec<(usize, PathBuf)> = Vec::with_capacity(groups.len());
    for group in groups {
        let (position, wheel) = choose(group, target, &mut selection.notes)?;
        chosen.push((position, wheel));
    }
    chosen.sort_by_key(|(position, _)| *position);
    selection.wheels = chosen.into_iter().map(|(_, wheel)| wheel).collect();
    Ok(selection)
}

fn parse(wheel: &Path) -> Result<WheelFilename> {
    let file_name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    WheelFilename::parse(&file_name).map_err(|reason| Error::Wheel {
        wheel: wheel.to_path_buf(),
        source: WheelError::BadFilename { name: file_name, reason },
    })
}

/// The most preferred candidate of `group`, or the refusal.
fn choose(group: Group, target: &Target, notes: &mut Vec<String>) -> Result<(usize, PathBuf)> {
    let ranked: Vec<Option<Rank>> = group.candidates.iter().map(|(_, _, f)| target.rank(f)).collect();
    let build = |i: usize| std::cmp::Reverse(group.candidates[i].2.build_order());
    let best =
        ranked.iter().enumerate().filter_map(|(i, r)| r.map(|r| (r, build(i), i))).min().map(|(_, _, i)| i);
    let what = target_words(target);
    let Some(best) = best else {
        let (_, first, filename) = &group.candidates[0];
        let source = if group.candidates.len() == 1 {
            WheelError::Incompatible { built_for: built_for(filename), target: what }
        } else {
            WheelError::NoneCompatible {
                dist: format!("{} {}", filename.name, group.version),
                target: what,
                candidates: group
                    .candidates
                    .iter()
                    .map(|(_, wheel, f)| {
                        format!("{} ({}-{}-{})", file_name(wheel), f.python, f.abi, f.platform)
                    })
                    .collect(),
            }
        };
        return Err(Error::Wheel { wheel: first.clone(), source });
    };
    if group.candidates.len() > 1 {
        let (_, wheel, filename) = &group.candidates[best];
        let tag = |rank: Rank| target.tags()[rank.0 as usize].as_str();
        let rank = ranked[best].expect("the best candidate has a rank");
        let mut note = format!(
            "{} {}: installing {} (tag {}, preference {} of {}{})",
            filename.name,
            group.version,
            file_name(wheel),
            tag(rank),
            rank.0 + 1,
            target.tags().len(),
            filename.build.as_ref().map_or(String::new(), |b| format!(", build {b}"))
        );
        for (i, (_, other, f)) in group.candidates.iter().enumerate().filter(|(i, _)| *i != best) {
            match ranked[i] {
                Some(r) => note.push_str(&format!(
                    "; not {} (tag {}, preference {})",
                    file_name(other),
                    tag(r),
                    r.0 + 1
                )),
                None => note.push_str(&format!("; not {}: built for {}", file_name(other), built_for(f))),
            }
        }
        notes.push(note);
    }
    let (position, wheel, _) = &group.candidates[best];
    Ok((*position, wheel.clone()))
}

/// `this environment is CPython 3.11 on ...`, or `the requested target is ...` when
/// `--python-version` or `--python-platform` made it.
fn target_words(target: &Target) -> String {
    if target.requested {
        format!("the requested target is {}", target.describe())
    } else {
        format!("this environment is {}", target.describe())
    }
}

fn file_name(wheel: &Path) -> String {
    wheel.file_name().map_or_else(|| wheel.display().to_string(), |n| n.to_string_lossy().into_owned())
}
