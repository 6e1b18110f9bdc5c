//! Reads the source tree's metadata (lstat, never follows symlinks) into an arena of nodes,
//! groups hardlinks into data objects, and rejects what an image cannot hold.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{io_err, IsoError};

pub type NodeId = usize;

#[derive(Debug)]
pub enum NodeKind {
    Dir { children: Vec<NodeId> },
    File { data: usize },
    Symlink { target: Vec<u8> },
}

/// One file system object as it will appear in the image.
#[derive(Debug)]
pub struct Node {
    pub name: Vec<u8>,
    pub path: PathBuf,
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub atime: i64,
    pub ctime: i64,
    /// Link count written in Rock Ridge PX.
    pub nlink: u32,
    /// Serial number written in Rock Ridge PX (shared by hardlinks).
    pub serial: u32,
}

/// The content of a regular file (one per hardlink group).
#[derive(Debug)]
pub struct DataObject {
    pub path: PathBuf,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    /// Any write changes it, even one that puts the mtime back.
    pub ctime: i64,
    pub ctime_nsec: i64,
    pub dev: u64,
    pub ino: u64,
    /// First LBA, set by the layout.
    pub lba: u32,
}

#[derive(Debug)]
pub struct SourceTree {
    pub nodes: Vec<Node>,
    pub data: Vec<DataObject>,
}

pub const ROOT: NodeId = 0;

struct Scanner {
    nodes: Vec<Node>,
    data: Vec<DataObject>,
    by_inode: HashMap<(u64, u64), (usize, u32)>,
    next_serial: u32,
}

/// Scans `source` (a directory). Children are sorted by name, so the result does not depend
/// on directory order on disk.
pub fn scan(source: &Path) -> Result<SourceTree, IsoError> {
    let meta = std::fs::metadata(source).map_err(io_err(source))?;
    if !meta.is_dir() {
        return Err(IsoError::SourceNotDirectory {
            path: source.to_path_buf(),
        });
    }
    let mut s = Scanner {
        nodes: Vec::new(),
        data: Vec::new(),
        by_inode: HashMap::new(),
        next_serial: 1,
    };
    s.add(Vec::new(), source.to_path_buf(), &meta)?;
    // Iterative depth-first walk: directories pushed in reverse so children come in order.
    let mut stack = vec![ROOT];
    while let Some(dir) = stack.pop() {
        let path = s.nodes[dir].path.clone();
        let mut entries: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(io_err(&path))? {
            let entry = entry.map_err(io_err(&path))?;
            entries.push((entry.file_name().as_bytes().to_vec(), entry.path()));
        }
        entries.sort();
        let mut children = Vec::with_capacity(entries.len());
        let mut subdirs = Vec::new();
        for (name, child_path) in entries {
            let meta = std::fs::symlink_metadata(&child_path).map_err(io_err(&child_path))?;
            let id = s.add(name, child_path, &meta)?;
            if matches!(s.nodes[id].kind, NodeKind::Dir { .. }) {
                subdirs.push(id);
            }
            children.push(id);
        }
        s.nodes[dir].nlink = 2 + subdirs.len() as u32;
        s.nodes[dir].kind = NodeKind::Dir { children };
        stack.extend(subdirs.into_iter().rev());
    }
    // PX link count of files = names of the hardlink group inside the image.
    let mut names_per_data = vec![0u32; s.data.len()];
    for n in &s.nodes {
        if let NodeKind::File { data } = n.kind {
            names_per_data[data] += 1;
        }
    }
    for n in &mut s.nodes {
        if let NodeKind::File { data } = n.kind {
            n.nlink = names_per_data[data];
        }
    }
    Ok(SourceTree {
        nodes: s.nodes,
        data: s.data,
    })
}

impl Scanner {
    fn add(
        &mut self,
        name: Vec<u8>,
        path: PathBuf,
        meta: &std::fs::Metadata,
    ) -> Result<NodeId, IsoError> {
        let ft = meta.file_type();
        let mut serial = 0;
        let kind = if ft.is_dir() {
            NodeKind::Dir {
                children: Vec::new(),
            }
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            let data = match self.by_inode.get(&key) {
                Some(&(data, s)) => {
                    serial = s;
                    data
                }
                None => {
                    serial = self.serial();
                    self.data.push(DataObject {
                        path: path.clone(),
                        size: meta.len(),
                        mtime: meta.mtime(),
                        mtime_nsec: meta.mtime_nsec(),
                        ctime: meta.ctime(),
                        ctime_nsec: meta.ctime_nsec(),
                        dev: meta.dev(),
                        ino: meta.ino(),
                        lba: 0,
                    });
                    self.by_inode.insert(key, (self.data.len() - 1, serial));
                    self.data.len() - 1
                }
            };
            NodeKind::File { data }
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io_err(&path))?;
            NodeKind::Symlink {
                target: target.as_os_str().as_bytes().to_vec(),
            }
        } else {
            let kind = if ft.is_socket() {
                "socket"
            } else if ft.is_fifo() {
                "FIFO"
            } else if ft.is_block_device() {
                "block device"
            } else if ft.is_char_device() {
                "character device"
            } else {
                "special file"
            };
            return Err(IsoError::SpecialFile { path, kind });
        };
        if serial == 0 {
            serial = self.serial();
        }
        if name.len() > 255 {
            return Err(IsoError::BadName {
                path,
                reason: format!("{} bytes, Rock Ridge names hold at most 255", name.len()),
            });
        }
        if std::str::from_utf8(&name).is_err() {
            return Err(IsoError::BadName {
                path,
                reason: "not valid UTF-8 (the input charset is UTF-8)".to_string(),
            });
        }
        self.nodes.push(Node {
            name,
            path,
            kind,
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: meta.mtime(),
            atime: meta.atime(),
            ctime: meta.ctime(),
            nlink: 1,
            serial,
        });
        Ok(self.nodes.len() - 1)
    }

    fn serial(&mut self) -> u32 {
        let s = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        s
    }
}
