//! Tree walks shared by the checks of one run: a directory walked for one task's check (a
//! directory target, a tree dependency) is not read again for another's while no action
//! has started since. A no-op build then stats each file once: the ISO's tree dependency
//! on `root/` reuses what the checks of the tasks that fill `root/` just walked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::fingerprint::InodeHashes;
use buildchain_fs::{walk_tree_reusing, FsError, Walked};

/// Walks made since the last action started or ended.
#[derive(Default)]
pub(crate) struct Walks {
    /// Bumped before and after every action: walks of an older epoch are never reused.
    epoch: AtomicU64,
    done: Mutex<HashMap<PathBuf, (u64, Walked)>>,
    /// Content hashes by inode (kept across actions: keyed by ctime, which any write
    /// changes).
    pub inodes: InodeHashes,
}

impl Walks {
    /// An action is about to start, or just ended: forget every walk.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut done) = self.done.lock() {
            done.clear();
        }
    }

    fn known(&self, dir: &Path, epoch: u64) -> Option<Walked> {
        let done = self.done.lock().ok()?;
        match done.get(dir) {
            Some((e, walked)) if *e == epoch => Some(walked.clone()),
            _ => None,
        }
    }

    /// Every entry under `dir` (see [`buildchain_fs::walk_tree`]), reusing the walks of
    /// this epoch; the walk is kept for the next checks unless an action started meanwhile.
    pub fn walk(&self, dir: &Path) -> Result<Walked, FsError> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        if let Some(walked) = self.known(dir, epoch) {
            return Ok(walked);
        }
        let entries = walk_tree_reusing(dir, &|d| self.known(d, epoch))?;
        let walked = Arc::new(entries);
        if self.epoch.load(Ordering::SeqCst) == epoch {
            if let Ok(mut done) = self.done.lock() {
                done.insert(dir.to_path_buf(), (epoch, walked.clone()));
            }
        }
        Ok(walked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_are_reused_until_an_action_starts() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("a"), "a").unwrap();
        let walks = Walks::default();
        assert_eq!(walks.walk(&sub).unwrap().len(), 2);
        // A file appears: the walks of this epoch (of `sub`, and of `sub` inside the
        // parent's walk) still show what was there.
        std::fs::write(sub.join("b"), "b").unwrap();
        assert_eq!(walks.walk(&sub).unwrap().len(), 2);
        assert_eq!(walks.walk(dir.path()).unwrap().len(), 3);
        walks.invalidate();
        assert_eq!(walks.walk(&sub).unwrap().len(), 3);
        let names: Vec<PathBuf> = walks
            .walk(dir.path())
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(
            names,
            [
                dir.path().to_path_buf(),
                sub.clone(),
                sub.join("a"),
                sub.join("b")
            ]
        );
    }
}
