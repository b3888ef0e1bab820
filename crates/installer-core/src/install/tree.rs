//! The destination tree of an install: every directory the planned files need, with its
//! subdirectories and its files, walked in parallel so that each directory is made by the
//! task of its parent and its files are placed as soon as it exists.
//!
//! A directory's entries are created under its lock, so two threads in one directory only
//! wait for each other; here one task owns a directory, many directories run at once, and
//! there is no barrier between depths nor between making directories and placing files.

use rustc_hash::FxHashMap;

/// Directories (by root and `/`-separated path under it) with their subdirectories and the
/// indices of the files placed in each.
pub(crate) struct Tree<'a> {
    /// The roots first (path `""`, never made), then directories, parents before children.
    nodes: Vec<Node<'a>>,
    index: FxHashMap<(usize, &'a str), u32>,
}

struct Node<'a> {
    root: usize,
    rel: &'a str,
    dirs: Vec<u32>,
    files: Vec<u32>,
    /// Missing: the walk makes it.
    new: bool,
    /// New, in a directory that is not.
    top: bool,
}

impl<'a> Tree<'a> {
    /// The tree holding `files` (root and path of each; a file's index is its position)
    /// under `roots` roots, which exist.
    pub fn new(roots: usize, files: impl IntoIterator<Item = (usize, &'a str)>) -> Tree<'a> {
        let mut tree = Tree { nodes: Vec::new(), index: FxHashMap::default() };
        for root in 0..roots {
            tree.nodes.push(Node {
                root,
                rel: "",
                dirs: Vec::new(),
                files: Vec::new(),
                new: false,
                top: false,
            });
        }
        for (i, (root, rel)) in files.into_iter().enumerate() {
            let parent = tree.dir(root, parent(rel));
            tree.nodes[parent as usize].files.push(i as u32);
        }
        tree
    }

    /// The node of directory `rel` under `root`, added with its missing parents.
    fn dir(&mut self, root: usize, rel: &'a str) -> u32 {
        if rel.is_empty() {
            return root as u32;
        }
        if let Some(&node) = self.index.get(&(root, rel)) {
            return node;
        }
        let parent = self.dir(root, parent(rel));
        let node = self.nodes.len() as u32;
        self.nodes.push(Node { root, rel, dirs: Vec::new(), files: Vec::new(), new: false, top: false });
        self.nodes[parent as usize].dirs.push(node);
        self.index.insert((root, rel), node);
        node
    }

    /// Marks the directories that are missing: every one under a missing one (no `stat`),
    /// and of the others those that `exists` does not find.
    pub fn find_new(&mut self, exists: impl Fn(usize, &str) -> bool) {
        // Parents come before children.
        for i in 0..self.nodes.len() {
            let new = self.nodes[i].new;
            for c in 0..self.nodes[i].dirs.len() {
                let child = self.nodes[i].dirs[c] as usize;
                let (root, rel) = (self.nodes[child].root, self.nodes[child].rel);
                let top = !new && !exists(root, rel);
                self.nodes[child].new = new || top;
                self.nodes[child].top = top;
            }
        }
    }

    /// The directories the walk will make, parents first.
    #[cfg(test)]
    pub fn new_dirs(&self) -> impl Iterator<Item = (usize, &'a str)> + '_ {
        self.nodes.iter().filter(|n| n.new).map(|n| (n.root, n.rel))
    }

    /// The topmost directories the walk will make (in a directory that exists): the others
    /// are below these.
    pub fn new_tops(&self) -> impl Iterator<Item = (usize, &'a str)> + '_ {
        self.nodes.iter().filter(|n| n.top).map(|n| (n.root, n.rel))
    }

    /// The files whose directory exists already (a root, or one not new), by index.
    pub fn files_in_old_dirs(&self) -> impl Iterator<Item = u32> + '_ {
        self.nodes.iter().filter(|n| !n.new).flat_map(|n| n.files.iter().copied())
    }

    /// Whether the directory of the path `rel` under `root` is one the walk makes.
    pub fn in_new_dir(&self, root: usize, rel: &str) -> bool {
        self.index.get(&(root, parent(rel))).is_some_and(|&n| self.nodes[n as usize].new)
    }

    /// How many directories the walk makes.
    pub fn new_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.new).count()
    }

    /// Makes every new directory with `make_dir` (after its parent) and places every file
    /// with `place` (after its directory), in parallel on the current rayon pool. A directory
    /// that `make_dir` refuses (returns `false` for) is skipped with everything under it.
    pub fn walk<M, P>(&self, make_dir: &M, place: &P)
    where
        M: Fn(usize, &'a str) -> bool + Sync,
        P: Fn(u32) + Sync,
    {
        rayon::scope(|scope| {
            for root in self.nodes.iter().take_while(|n| n.rel.is_empty()) {
                self.visit(scope, root, make_dir, place);
            }
        });
    }

    fn visit<'s, M, P>(&'s self, scope: &rayon::Scope<'s>, node: &'s Node<'a>, make_dir: &'s M, place: &'s P)
    where
        M: Fn(usize, &'a str) -> bool + Sync,
        P: Fn(u32) + Sync,
    {
        for &child in &node.dirs {
            let child = &self.nodes[child as usize];
            if !child.new || make_dir(child.root, child.rel) {
                scope.spawn(move |scope| self.visit(scope, child, make_dir, place));
            }
        }
        for &file in &node.files {
            place(file);
        }
    }
}

/// The directory part of a `/`-separated path (`""` at the top).
fn parent(rel: &str) -> &str {
    rel.rfind('/').map_or("", |slash| &rel[..slash])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn walk_makes_each_new_directory_after_its_parent_and_places_each_file_after_its_directory() {
        let files = [
            (0, "a/b/c.py"),
            (0, "a/x.py"),
            (0, "top.py"),
            (1, "tool"),
            (0, "old/new/d.py"),
            (0, "a/b/e.py"),
        ];
        let mut tree = Tree::new(2, files);
        tree.find_new(|root, rel| root == 0 && rel == "old");
        assert_eq!(tree.new_dirs().collect::<Vec<_>>(), [(0, "a"), (0, "a/b"), (0, "old/new")]);
        assert_eq!(tree.new_tops().collect::<Vec<_>>(), [(0, "a"), (0, "old/new")]);
        assert!(
            tree.in_new_dir(0, "a/b/c.py") && !tree.in_new_dir(0, "top.py") && !tree.in_new_dir(0, "old/x")
        );
        assert_eq!(tree.new_count(), 3);

        let events = Mutex::new(Vec::new());
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        pool.install(|| {
            tree.walk(
                &|root, rel| {
                    events.lock().unwrap().push(format!("mkdir {root}:{rel}"));
                    true
                },
                &|file| events.lock().unwrap().push(format!("place {}", files[file as usize].1)),
            )
        });
        let events = events.into_inner().unwrap();
        assert_eq!(events.len(), 3 + files.len(), "{events:?}");
        let at = |e: &str| events.iter().position(|x| x == e).unwrap_or_else(|| panic!("{e} in {events:?}"));
        assert!(at("mkdir 0:a") < at("mkdir 0:a/b"));
        assert!(at("mkdir 0:a/b") < at("place a/b/c.py") && at("mkdir 0:a/b") < at("place a/b/e.py"));
        assert!(at("mkdir 0:a") < at("place a/x.py"));
        assert!(at("mkdir 0:old/new") < at("place old/new/d.py"));
        at("place tool");
        at("place top.py");
    }

    #[test]
    fn a_refused_directory_skips_everything_under_it() {
        let files = [(0, "a/b/c.py"), (0, "a/x.py"), (0, "y.py")];
        let mut tree = Tree::new(1, files);
        tree.find_new(|_, _| false);
        let placed = Mutex::new(Vec::new());
        tree.walk(&|_, rel| rel != "a/b", &|file| placed.lock().unwrap().push(file));
        let mut placed = placed.into_inner().unwrap();
        placed.sort();
        assert_eq!(placed, [1, 2]);
    }
}
