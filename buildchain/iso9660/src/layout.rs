//! Plans the image from the scanned tree: ISO 9660 tree (names, relocation of deep
//! directories), Joliet tree, sizes and LBAs of every part; and encodes directories, path
//! tables and volume descriptors from that plan. No field's size depends on an LBA, so
//! directories are encoded once with zero LBAs to size them, and again when written.

use std::collections::VecDeque;

use crate::bytes::{both16, both32, put_text, put_ucs2_text};
use crate::datetime::{dir_date, vd_date, VD_DATE_UNSPECIFIED};
use crate::error::IsoError;
use crate::names::{
    iso_sort_key, map_iso_name, map_joliet_name, resolve_iso_collisions, resolve_joliet_collisions,
    IsoName, IsoNameRules,
};
use crate::scan::{Node, NodeId, NodeKind, SourceTree, ROOT};
use crate::susp::{self, ContinuationArea};
use crate::{IsoOptions, RockRidge};

pub const SECTOR: u64 = 2048;
/// Section size of multi-extent files (libisofs): 4 GiB - 2048.
pub const SECTION: u64 = 0xFFFF_F800;
/// Smallest image for which isomd5sum writes all 60 fragment characters (spec §10.5).
pub const MIN_SECTORS_FOR_ISOMD5: u64 = 336;
/// The first LBA after the system area.
const PVD_LBA: u32 = 16;
const APPLICATION_ID: &[u8] = b"BUILDCHAIN-ISO9660";
const SYSTEM_ID: &str = "LINUX";
const ISO_MAX_LEVEL: usize = 8;

/// Attributes written for a node, after options (-r, -uid, -gid, SOURCE_DATE_EPOCH).
#[derive(Debug, Clone, Copy)]
pub struct Attrs {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub serial: u32,
    pub mtime: i64,
    pub atime: i64,
    pub ctime: i64,
}

#[derive(Debug)]
pub enum EntryKind {
    /// A regular file or symlink.
    Leaf(NodeId),
    /// A directory (its ECMA index).
    Dir(usize),
    /// A Rock Ridge CL placeholder for a relocated directory (its ECMA index).
    Placeholder(usize),
}

#[derive(Debug)]
pub struct Entry {
    pub ident: Vec<u8>,
    pub kind: EntryKind,
}

/// One directory of the ISO 9660 tree.
#[derive(Debug)]
pub struct EcmaDir {
    /// Source node (the root node for the synthetic relocation directory).
    pub node: NodeId,
    pub parent: usize,
    pub entries: Vec<Entry>,
    /// The ISO directory this one was relocated from.
    pub relocated_from: Option<usize>,
    pub is_relocation_dir: bool,
    pub ident: Vec<u8>,
    pub lba: u32,
    pub sectors: u32,
    pub ca_sectors: u32,
}

/// One directory of the Joliet tree.
#[derive(Debug)]
pub struct JolietDir {
    pub node: NodeId,
    pub parent: usize,
    /// (UCS-2BE identifier, file node or directory index).
    pub entries: Vec<(Vec<u8>, JolietKind)>,
    pub ident: Vec<u8>,
    pub lba: u32,
    pub sectors: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum JolietKind {
    File(NodeId),
    Dir(usize),
}

/// Where a path table pair lives.
#[derive(Debug, Default, Clone, Copy)]
pub struct PathTables {
    pub size: u32,
    pub l_lba: u32,
    pub m_lba: u32,
}

/// The complete plan of an image.
pub struct Layout {
    pub tree: SourceTree,
    pub rock_ridge: RockRidge,
    pub joliet_long: bool,
    pub multi_extent: bool,
    uid: Option<u32>,
    gid: Option<u32>,
    sde: Option<i64>,
    pub volume_id: String,
    pub volume_date: i64,
    pub ecma: Vec<EcmaDir>,
    /// Path-table order: breadth-first over sorted children.
    pub ecma_order: Vec<usize>,
    /// The order of the directory extents on disk: the root, then `rr_moved` and everything
    /// relocated into it, then the rest in path-table order. libarchive reads directories by
    /// increasing offset and attaches a relocated directory when it meets its CL record;
    /// nested relocations must all be attached before the outermost one (whose CL lives in
    /// the main tree), as genisoimage's layout guarantees.
    pub ecma_extent_order: Vec<usize>,
    /// The relocation directory `rr_moved`, when a directory was relocated.
    relocation_dir: Option<usize>,
    /// The serial number (PX inode) of `rr_moved`: one past the tree's.
    relocation_serial: u32,
    pub ecma_pt: PathTables,
    pub joliet: Vec<JolietDir>,
    pub joliet_order: Vec<usize>,
    pub joliet_pt: PathTables,
    /// Number of volume descriptors (PVD, SVD, terminator).
    pub vd_count: u32,
    pub zero_lba: u32,
    pub data_lba: u32,
    /// Sectors used by content (before padding).
    pub content_sectors: u64,
    pub total_sectors: u64,
}

/// The longest volume identifier ISO 9660 holds (the PVD field), in characters.
pub const VOLUME_ID_MAX: usize = 32;

/// Checks a volume identifier: at most [`VOLUME_ID_MAX`] printable ASCII characters.
pub fn validate_volume_id(id: &str) -> Result<(), IsoError> {
    let bad = |reason: &str| IsoError::BadVolumeId {
        id: id.to_string(),
        reason: reason.to_string(),
    };
    if id.len() > VOLUME_ID_MAX {
        return Err(bad(&format!("longer than {VOLUME_ID_MAX} characters")));
    }
    if !id.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad("only printable ASCII characters are allowed"));
    }
    Ok(())
}

/// Rock Ridge `-r` rule: readable by all, no write bits, x for all if any x, no suid/sgid/sticky.
fn rationalize(mode: u32) -> u32 {
    let perm = mode & 0o7777;
    let mut p = (perm | 0o444) & !0o222 & 0o777;
    if perm & 0o111 != 0 {
        p |= 0o111;
    }
    (mode & !0o7777) | p
}

impl Layout {
    /// Plans the image of `tree`.
    pub fn plan(tree: SourceTree, options: &IsoOptions, now: i64) -> Result<Layout, IsoError> {
        validate_volume_id(&options.volume_id)?;
        if !(1..=3).contains(&options.iso_level) {
            return Err(IsoError::BadOption(format!(
                "ISO level {} (1, 2 or 3 expected)",
                options.iso_level
            )));
        }
        let multi_extent = options.iso_level >= 3;
        for d in &tree.data {
            if !multi_extent && d.size > u64::from(u32::MAX) {
                return Err(IsoError::FileTooLarge {
                    path: d.path.clone(),
                    size: d.size,
                });
            }
        }
        let volume_date = options.source_date_epoch.unwrap_or(now);
        let mut layout = Layout {
            tree,
            rock_ridge: options.rock_ridge,
            joliet_long: options.joliet_long,
            multi_extent,
            uid: options.uid,
            gid: options.gid,
            sde: options.source_date_epoch,
            volume_id: options.volume_id.clone(),
            volume_date,
            ecma: Vec::new(),
            ecma_order: Vec::new(),
            ecma_extent_order: Vec::new(),
            relocation_dir: None,
            relocation_serial: 0,
            ecma_pt: PathTables::default(),
            joliet: Vec::new(),
            joliet_order: Vec::new(),
            joliet_pt: PathTables::default(),
            vd_count: if options.joliet { 3 } else { 2 },
            zero_lba: 0,
            data_lba: 0,
            content_sectors: 0,
            total_sectors: 0,
        };
        let rules = IsoNameRules::new(options.iso_level, options.full_iso9660_filenames);
        layout.build_ecma_tree(&rules)?;
        if options.joliet {
            layout.build_joliet_tree();
        }
        layout.assign(options)?;
        Ok(layout)
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.tree.nodes[id]
    }

    fn children(&self, id: NodeId) -> &[NodeId] {
        match &self.tree.nodes[id].kind {
            NodeKind::Dir { children } => children,
            _ => &[],
        }
    }

    fn is_dir(&self, id: NodeId) -> bool {
        matches!(self.tree.nodes[id].kind, NodeKind::Dir { .. })
    }

    /// Attributes of a node as written in Rock Ridge.
    pub fn attrs(&self, id: NodeId) -> Attrs {
        let n = self.node(id);
        let (mut mode, mut uid, mut gid) = (n.mode, n.uid, n.gid);
        if self.rock_ridge == RockRidge::Rational {
            mode = rationalize(mode);
            uid = 0;
            gid = 0;
        }
        if let Some(u) = self.uid {
            uid = u;
        }
        if let Some(g) = self.gid {
            gid = g;
        }
        let (mtime, atime, ctime) = match self.sde {
            Some(sde) => {
                let m = n.mtime.min(sde);
                (m, m, m)
            }
            None => (n.mtime, n.atime, n.ctime),
        };
        Attrs {
            mode,
            uid,
            gid,
            nlink: n.nlink,
            serial: n.serial,
            mtime,
            atime,
            ctime,
        }
    }

    /// Attributes of ECMA directory `d`: `rr_moved` gets its own (read-only, one link per
    /// relocated directory, a serial number of its own, the root's times), and the root
    /// counts `rr_moved` among its links.
    pub fn dir_attrs(&self, d: usize) -> Attrs {
        let dir = &self.ecma[d];
        let mut a = self.attrs(dir.node);
        if dir.is_relocation_dir {
            let relocated = dir.entries.len() as u32;
            a.mode = 0o040555;
            a.nlink = 2 + relocated;
            a.serial = self.relocation_serial;
        } else if d == 0 && self.relocation_dir.is_some() {
            a.nlink += 1;
        }
        a
    }

    fn build_ecma_tree(&mut self, rules: &IsoNameRules) -> Result<(), IsoError> {
        self.ecma.push(EcmaDir {
            node: ROOT,
            parent: 0,
            entries: Vec::new(),
            relocated_from: None,
            is_relocation_dir: false,
            ident: vec![0],
            lba: 0,
            sectors: 0,
            ca_sectors: 0,
        });
        let mut levels = vec![1usize];
        let mut relocation_dir: Option<usize> = None;
        let mut queue = VecDeque::from([0usize]);
        while let Some(d) = queue.pop_front() {
            if self.ecma[d].is_relocation_dir {
                continue;
            }
            let children = self.children(self.ecma[d].node).to_vec();
            for child in children {
                if !self.is_dir(child) {
                    self.ecma[d].entries.push(Entry {
                        ident: Vec::new(),
                        kind: EntryKind::Leaf(child),
                    });
                    continue;
                }
                let level = levels[d] + 1;
                let new = if level <= ISO_MAX_LEVEL {
                    let new = self.ecma.len();
                    self.ecma.push(new_dir(child, d));
                    levels.push(level);
                    self.ecma[d].entries.push(Entry {
                        ident: Vec::new(),
                        kind: EntryKind::Dir(new),
                    });
                    new
                } else {
                    if self.rock_ridge == RockRidge::Off {
                        return Err(IsoError::TooDeepWithoutRockRidge {
                            path: self.node(child).path.clone(),
                        });
                    }
                    let reloc = match relocation_dir {
                        Some(r) => r,
                        None => {
                            let r = self.ecma.len();
                            let mut dir = new_dir(ROOT, 0);
                            dir.is_relocation_dir = true;
                            self.ecma.push(dir);
                            levels.push(2);
                            self.ecma[0].entries.push(Entry {
                                ident: Vec::new(),
                                kind: EntryKind::Dir(r),
                            });
                            relocation_dir = Some(r);
                            r
                        }
                    };
                    let new = self.ecma.len();
                    let mut dir = new_dir(child, reloc);
                    dir.relocated_from = Some(d);
                    self.ecma.push(dir);
                    levels.push(3);
                    self.ecma[d].entries.push(Entry {
                        ident: Vec::new(),
                        kind: EntryKind::Placeholder(new),
                    });
                    self.ecma[reloc].entries.push(Entry {
                        ident: Vec::new(),
                        kind: EntryKind::Dir(new),
                    });
                    new
                };
                queue.push_back(new);
            }
        }
        if self.ecma.len() > 65535 {
            return Err(IsoError::TooManyDirectories {
                count: self.ecma.len(),
            });
        }
        // Names, collisions, sort.
        for d in 0..self.ecma.len() {
            let names: Vec<IsoName> = self.ecma[d]
                .entries
                .iter()
                .map(|e| match e.kind {
                    EntryKind::Leaf(n) => map_iso_name(&self.node(n).name, false, rules),
                    EntryKind::Dir(x) | EntryKind::Placeholder(x) => {
                        if self.ecma[x].is_relocation_dir {
                            map_iso_name(b"rr_moved", true, rules)
                        } else {
                            map_iso_name(&self.node(self.ecma[x].node).name, true, rules)
                        }
                    }
                })
                .collect();
            let idents = resolve_iso_collisions(names, rules);
            let mut entries = std::mem::take(&mut self.ecma[d].entries);
            for (e, ident) in entries.iter_mut().zip(idents) {
                e.ident = ident;
            }
            entries.sort_by_cached_key(|e| iso_sort_key(&e.ident));
            for e in &entries {
                if let EntryKind::Dir(x) = e.kind {
                    self.ecma[x].ident = e.ident.clone();
                }
            }
            self.ecma[d].entries = entries;
        }
        // Breadth-first order over sorted children = path table order.
        let mut order = vec![0usize];
        let mut i = 0;
        while i < order.len() {
            let d = order[i];
            for e in &self.ecma[d].entries {
                if let EntryKind::Dir(x) = e.kind {
                    order.push(x);
                }
            }
            i += 1;
        }
        // Extent order: the relocation subtree right after the root.
        let mut in_relocation = vec![false; self.ecma.len()];
        for &d in &order {
            in_relocation[d] =
                self.ecma[d].is_relocation_dir || (d != 0 && in_relocation[self.ecma[d].parent]);
        }
        let mut extents = vec![0usize];
        extents.extend(order.iter().copied().filter(|&d| in_relocation[d]));
        extents.extend(
            order
                .iter()
                .copied()
                .filter(|&d| d != 0 && !in_relocation[d]),
        );
        self.ecma_extent_order = extents;
        self.ecma_order = order;
        self.relocation_dir = relocation_dir;
        self.relocation_serial = self.tree.nodes.iter().map(|n| n.serial).max().unwrap_or(0) + 1;
        Ok(())
    }

    fn build_joliet_tree(&mut self) {
        let max_units = if self.joliet_long { 103 } else { 64 };
        self.joliet.push(JolietDir {
            node: ROOT,
            parent: 0,
            entries: Vec::new(),
            ident: vec![0],
            lba: 0,
            sectors: 0,
        });
        let mut i = 0;
        while i < self.joliet.len() {
            let node = self.joliet[i].node;
            let mut entries: Vec<(Vec<u16>, JolietKind)> = Vec::new();
            for &child in self.children(node).to_vec().iter() {
                let name = String::from_utf8_lossy(&self.node(child).name).into_owned();
                match self.node(child).kind {
                    NodeKind::Dir { .. } => {
                        let idx = self.joliet.len();
                        self.joliet.push(JolietDir {
                            node: child,
                            parent: i,
                            entries: Vec::new(),
                            ident: Vec::new(),
                            lba: 0,
                            sectors: 0,
                        });
                        entries.push((
                            map_joliet_name(&name, true, max_units),
                            JolietKind::Dir(idx),
                        ));
                    }
                    NodeKind::File { .. } => entries.push((
                        map_joliet_name(&name, false, max_units),
                        JolietKind::File(child),
                    )),
                    NodeKind::Symlink { .. } => {}
                }
            }
            let (names, kinds): (Vec<Vec<u16>>, Vec<JolietKind>) = entries.into_iter().unzip();
            let names = resolve_joliet_collisions(names, max_units);
            let mut entries: Vec<(Vec<u16>, JolietKind)> = names.into_iter().zip(kinds).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            self.joliet[i].entries = entries
                .into_iter()
                .map(|(units, kind)| {
                    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
                    (bytes, kind)
                })
                .collect();
            for (ident, kind) in self.joliet[i].entries.clone() {
                if let JolietKind::Dir(x) = kind {
                    self.joliet[x].ident = ident;
                }
            }
            i += 1;
        }
        let mut order = vec![0usize];
        let mut i = 0;
        while i < order.len() {
            for (_, kind) in &self.joliet[order[i]].entries {
                if let JolietKind::Dir(x) = kind {
                    order.push(*x);
                }
            }
            i += 1;
        }
        self.joliet_order = order;
    }

    /// Sizes every part, then assigns LBAs in layout order (spec §1.2).
    fn assign(&mut self, options: &IsoOptions) -> Result<(), IsoError> {
        for d in 0..self.ecma.len() {
            let (dir, ca) = self.encode_ecma_dir(d);
            self.ecma[d].sectors = (dir.len() as u64 / SECTOR) as u32;
            self.ecma[d].ca_sectors = ca.sectors();
        }
        for d in 0..self.joliet.len() {
            let dir = self.encode_joliet_dir(d);
            self.joliet[d].sectors = (dir.len() as u64 / SECTOR) as u32;
        }
        let mut next: u64 = u64::from(PVD_LBA + self.vd_count);
        for &d in &self.ecma_extent_order {
            self.ecma[d].lba = next as u32;
            next += u64::from(self.ecma[d].sectors + self.ecma[d].ca_sectors);
        }
        let size = path_table(
            &self.ecma_order,
            |d| (&self.ecma[d].ident, self.ecma[d].parent, 0),
            false,
        )
        .len();
        self.ecma_pt = pt_at(&mut next, size);
        if !self.joliet.is_empty() {
            for &d in &self.joliet_order {
                self.joliet[d].lba = next as u32;
                next += u64::from(self.joliet[d].sectors);
            }
            let size = path_table(
                &self.joliet_order,
                |d| (&self.joliet[d].ident, self.joliet[d].parent, 0),
                false,
            )
            .len();
            self.joliet_pt = pt_at(&mut next, size);
        }
        self.zero_lba = next as u32;
        next += 1;
        self.data_lba = next as u32;
        for d in &mut self.tree.data {
            if d.size == 0 {
                d.lba = self.zero_lba;
            } else {
                if next > u64::from(u32::MAX) {
                    return Err(IsoError::ImageTooLarge { sectors: next });
                }
                d.lba = next as u32;
                next += d.size.div_ceil(SECTOR);
            }
        }
        self.content_sectors = next;
        let mut total = next + u64::from(options.padding_sectors);
        if options.implant_md5 {
            total = total.max(MIN_SECTORS_FOR_ISOMD5);
        }
        if total > u64::from(u32::MAX) {
            return Err(IsoError::ImageTooLarge { sectors: total });
        }
        self.total_sectors = total;
        Ok(())
    }

    /// Extent sections (LBA, length) of a file's data.
    pub fn sections(&self, data: usize) -> Vec<(u32, u32)> {
        let d = &self.tree.data[data];
        if d.size == 0 {
            return vec![(self.zero_lba, 0)];
        }
        if !self.multi_extent || d.size <= SECTION {
            return vec![(d.lba, d.size as u32)];
        }
        let mut out = Vec::new();
        let mut left = d.size;
        let mut lba = d.lba;
        while left > 0 {
            let n = left.min(SECTION);
            out.push((lba, n as u32));
            lba += (SECTION / SECTOR) as u32;
            left -= n;
        }
        out
    }

    fn dir_extent_size(&self, d: usize) -> u32 {
        self.ecma[d].sectors * SECTOR as u32
    }

    /// The directory extent of ECMA directory `d`, and its continuation area.
    pub fn encode_ecma_dir(&self, d: usize) -> (Vec<u8>, ContinuationArea) {
        let dir = &self.ecma[d];
        let rr = self.rock_ridge != RockRidge::Off;
        let mut stream = DirStream::default();
        let mut ca = ContinuationArea::new(dir.lba + dir.sectors);
        let own = self.dir_attrs(d);
        let parent = &self.ecma[dir.parent];
        let parent_attrs = self.dir_attrs(dir.parent);
        // "."
        let sua = if rr {
            let mut fixed = Vec::new();
            if d == 0 {
                fixed.push(susp::sp());
            }
            fixed.push(px_of(&own));
            fixed.push(tf_of(&own));
            // No NM on "." and "..": readers name them themselves (libarchive would call
            // the root ".", isoinfo would print blank names), and genisoimage writes none.
            let movable = if d == 0 { vec![susp::er()] } else { Vec::new() };
            susp::place(fixed, movable, max_sua(1), &mut ca)
        } else {
            Vec::new()
        };
        stream.push(&record(
            dir.lba,
            self.dir_extent_size(d),
            own.mtime,
            2,
            &[0],
            &sua,
        ));
        // ".."
        let sua = if rr {
            let mut fixed = vec![px_of(&parent_attrs), tf_of(&parent_attrs)];
            if let Some(orig) = dir.relocated_from {
                fixed.push(susp::pl(self.ecma[orig].lba));
            }
            susp::place(fixed, Vec::new(), max_sua(1), &mut ca)
        } else {
            Vec::new()
        };
        stream.push(&record(
            parent.lba,
            self.dir_extent_size(dir.parent),
            parent_attrs.mtime,
            2,
            &[1],
            &sua,
        ));
        for e in &dir.entries {
            let max = max_sua(e.ident.len());
            match e.kind {
                EntryKind::Leaf(n) => {
                    let a = self.attrs(n);
                    let node = self.node(n);
                    let mut movable = susp::nm(&node.name);
                    let sections = match &node.kind {
                        NodeKind::File { data } => self.sections(*data),
                        NodeKind::Symlink { target } => {
                            movable.extend(susp::sl(target));
                            vec![(self.zero_lba, 0)]
                        }
                        NodeKind::Dir { .. } => vec![(self.zero_lba, 0)],
                    };
                    let last = sections.len() - 1;
                    for (i, (lba, len)) in sections.into_iter().enumerate() {
                        let sua = if rr {
                            susp::place(vec![px_of(&a), tf_of(&a)], movable.clone(), max, &mut ca)
                        } else {
                            Vec::new()
                        };
                        let flags = if i == last { 0 } else { 0x80 };
                        stream.push(&record(lba, len, a.mtime, flags, &e.ident, &sua));
                    }
                }
                EntryKind::Dir(x) => {
                    let child = &self.ecma[x];
                    let a = self.dir_attrs(x);
                    let sua = if rr {
                        let mut fixed = vec![px_of(&a), tf_of(&a)];
                        // RE marks a relocated directory. On rr_moved too (genisoimage
                        // writes none there): Linux and xorriso then hide the empty-looking
                        // directory, bsdtar hides it by name either way.
                        if child.relocated_from.is_some() || child.is_relocation_dir {
                            fixed.push(susp::re());
                        }
                        let name: &[u8] = if child.is_relocation_dir {
                            b"rr_moved"
                        } else {
                            &self.node(child.node).name
                        };
                        susp::place(fixed, susp::nm(name), max, &mut ca)
                    } else {
                        Vec::new()
                    };
                    stream.push(&record(
                        child.lba,
                        self.dir_extent_size(x),
                        a.mtime,
                        2,
                        &e.ident,
                        &sua,
                    ));
                }
                EntryKind::Placeholder(x) => {
                    let child = &self.ecma[x];
                    let a = self.dir_attrs(x);
                    let fixed = vec![px_of(&a), tf_of(&a), susp::cl(child.lba)];
                    let sua =
                        susp::place(fixed, susp::nm(&self.node(child.node).name), max, &mut ca);
                    stream.push(&record(self.zero_lba, 0, a.mtime, 0, &e.ident, &sua));
                }
            }
        }
        (stream.finish(), ca)
    }

    /// The directory extent of Joliet directory `d`.
    pub fn encode_joliet_dir(&self, d: usize) -> Vec<u8> {
        let dir = &self.joliet[d];
        let parent = &self.joliet[dir.parent];
        let mut stream = DirStream::default();
        let size = |x: usize| self.joliet[x].sectors * SECTOR as u32;
        stream.push(&record(
            dir.lba,
            size(d),
            self.attrs(dir.node).mtime,
            2,
            &[0],
            &[],
        ));
        stream.push(&record(
            parent.lba,
            size(dir.parent),
            self.attrs(parent.node).mtime,
            2,
            &[1],
            &[],
        ));
        for (ident, kind) in &dir.entries {
            match *kind {
                JolietKind::File(n) => {
                    let a = self.attrs(n);
                    let sections = match self.node(n).kind {
                        NodeKind::File { data } => self.sections(data),
                        _ => vec![(self.zero_lba, 0)],
                    };
                    let last = sections.len() - 1;
                    for (i, (lba, len)) in sections.into_iter().enumerate() {
                        let flags = if i == last { 0 } else { 0x80 };
                        stream.push(&record(lba, len, a.mtime, flags, ident, &[]));
                    }
                }
                JolietKind::Dir(x) => {
                    let a = self.attrs(self.joliet[x].node);
                    stream.push(&record(self.joliet[x].lba, size(x), a.mtime, 2, ident, &[]));
                }
            }
        }
        stream.finish()
    }

    /// The ECMA (joliet = false) or Joliet path table, little- or big-endian.
    pub fn path_table(&self, joliet: bool, big_endian: bool) -> Vec<u8> {
        if joliet {
            path_table(
                &self.joliet_order,
                |d| {
                    (
                        &self.joliet[d].ident,
                        self.joliet[d].parent,
                        self.joliet[d].lba,
                    )
                },
                big_endian,
            )
        } else {
            path_table(
                &self.ecma_order,
                |d| (&self.ecma[d].ident, self.ecma[d].parent, self.ecma[d].lba),
                big_endian,
            )
        }
    }

    /// The primary (joliet = false) or Joliet supplementary volume descriptor.
    pub fn volume_descriptor(&self, joliet: bool) -> Vec<u8> {
        let mut vd = vec![0u8; SECTOR as usize];
        vd[0] = if joliet { 2 } else { 1 };
        vd[1..6].copy_from_slice(b"CD001");
        vd[6] = 1;
        let text = |vd: &mut [u8], range: std::ops::Range<usize>, s: &str| {
            if joliet {
                put_ucs2_text(&mut vd[range], s)
            } else {
                put_text(&mut vd[range], s.as_bytes())
            }
        };
        text(&mut vd, 8..40, SYSTEM_ID);
        let volume_id: String = if joliet {
            self.volume_id.chars().take(16).collect()
        } else {
            self.volume_id.clone()
        };
        text(&mut vd, 40..72, &volume_id);
        vd[80..88].copy_from_slice(&both32(self.total_sectors as u32));
        if joliet {
            vd[88..91].copy_from_slice(b"%/E");
        }
        vd[120..124].copy_from_slice(&both16(1));
        vd[124..128].copy_from_slice(&both16(1));
        vd[128..132].copy_from_slice(&both16(SECTOR as u16));
        let (pt, root_lba, root_size, root_node) = if joliet {
            (
                self.joliet_pt,
                self.joliet[0].lba,
                self.joliet[0].sectors,
                self.joliet[0].node,
            )
        } else {
            (
                self.ecma_pt,
                self.ecma[0].lba,
                self.ecma[0].sectors,
                self.ecma[0].node,
            )
        };
        vd[132..140].copy_from_slice(&both32(pt.size));
        vd[140..144].copy_from_slice(&pt.l_lba.to_le_bytes());
        vd[148..152].copy_from_slice(&pt.m_lba.to_be_bytes());
        let root = record(
            root_lba,
            root_size * SECTOR as u32,
            self.attrs(root_node).mtime,
            2,
            &[0],
            &[],
        );
        vd[156..190].copy_from_slice(&root);
        for range in [190..318, 318..446, 446..574, 702..739, 739..776, 776..813] {
            text(&mut vd, range, "");
        }
        text(
            &mut vd,
            574..702,
            std::str::from_utf8(APPLICATION_ID).unwrap_or(""),
        );
        let date = vd_date(self.volume_date);
        vd[813..830].copy_from_slice(&date);
        vd[830..847].copy_from_slice(&date);
        vd[847..864].copy_from_slice(&VD_DATE_UNSPECIFIED);
        vd[864..881].copy_from_slice(&date);
        vd[881] = 1;
        vd[883..1395].fill(b' ');
        vd
    }

    /// The volume descriptor set terminator.
    pub fn terminator() -> Vec<u8> {
        let mut vd = vec![0u8; SECTOR as usize];
        vd[0] = 255;
        vd[1..6].copy_from_slice(b"CD001");
        vd[6] = 1;
        vd
    }
}

fn new_dir(node: NodeId, parent: usize) -> EcmaDir {
    EcmaDir {
        node,
        parent,
        entries: Vec::new(),
        relocated_from: None,
        is_relocation_dir: false,
        ident: Vec::new(),
        lba: 0,
        sectors: 0,
        ca_sectors: 0,
    }
}

fn pt_at(next: &mut u64, size: usize) -> PathTables {
    let sectors = (size as u64).div_ceil(SECTOR) as u32;
    let l_lba = *next as u32;
    let m_lba = l_lba + sectors;
    *next += 2 * u64::from(sectors);
    PathTables {
        size: size as u32,
        l_lba,
        m_lba,
    }
}

fn px_of(a: &Attrs) -> Vec<u8> {
    susp::px(a.mode, a.nlink, a.uid, a.gid, a.serial)
}

fn tf_of(a: &Attrs) -> Vec<u8> {
    susp::tf(a.mtime, a.atime, a.ctime)
}

/// Room for the System Use Area of a record whose identifier has `len_fi` bytes.
fn max_sua(len_fi: usize) -> usize {
    254 - (33 + len_fi + usize::from(len_fi & 1 == 0))
}

/// Encodes one directory record.
fn record(extent: u32, size: u32, mtime: i64, flags: u8, ident: &[u8], sua: &[u8]) -> Vec<u8> {
    let pad = usize::from(ident.len() & 1 == 0);
    let len = 33 + ident.len() + pad + sua.len();
    let mut r = Vec::with_capacity(len);
    r.push(len as u8);
    r.push(0);
    r.extend_from_slice(&both32(extent));
    r.extend_from_slice(&both32(size));
    r.extend_from_slice(&dir_date(mtime));
    r.push(flags);
    r.push(0);
    r.push(0);
    r.extend_from_slice(&both16(1));
    r.push(ident.len() as u8);
    r.extend_from_slice(ident);
    if pad == 1 {
        r.push(0);
    }
    r.extend_from_slice(sua);
    r
}

/// Directory records laid out so that none crosses a sector boundary.
#[derive(Default)]
struct DirStream {
    buf: Vec<u8>,
}

impl DirStream {
    fn push(&mut self, rec: &[u8]) {
        if self.buf.len() % 2048 + rec.len() > 2048 {
            self.pad();
        }
        self.buf.extend_from_slice(rec);
    }

    fn pad(&mut self) {
        let rem = self.buf.len() % 2048;
        if rem != 0 {
            self.buf.resize(self.buf.len() + 2048 - rem, 0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.pad();
        self.buf
    }
}

/// Encodes a path table over `order`; `info(d)` gives (identifier, parent index, LBA).
fn path_table<'a>(
    order: &[usize],
    info: impl Fn(usize) -> (&'a Vec<u8>, usize, u32),
    big_endian: bool,
) -> Vec<u8> {
    let mut number = std::collections::HashMap::with_capacity(order.len());
    for (i, &d) in order.iter().enumerate() {
        number.insert(d, (i + 1) as u16);
    }
    let mut out = Vec::new();
    for &d in order {
        let (ident, parent, lba) = info(d);
        let parent_no = number.get(&parent).copied().unwrap_or(1);
        out.push(ident.len() as u8);
        out.push(0);
        if big_endian {
            out.extend_from_slice(&lba.to_be_bytes());
            out.extend_from_slice(&parent_no.to_be_bytes());
        } else {
            out.extend_from_slice(&lba.to_le_bytes());
            out.extend_from_slice(&parent_no.to_le_bytes());
        }
        out.extend_from_slice(ident);
        if ident.len() % 2 == 1 {
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rational_modes() {
        assert_eq!(rationalize(0o100600), 0o100444);
        assert_eq!(rationalize(0o104755), 0o100555);
        assert_eq!(rationalize(0o040700), 0o040555);
        assert_eq!(rationalize(0o120777), 0o120555);
    }

    #[test]
    fn records_are_even_and_bounded() {
        for n in 1..=33usize {
            let ident = vec![b'A'; n];
            let r = record(1, 2, 0, 0, &ident, &vec![0u8; max_sua(n)]);
            assert_eq!(r.len() % 2, 0);
            assert!(r.len() <= 254);
        }
    }
}
