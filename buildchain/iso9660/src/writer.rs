//! Writes a planned image in one sequential pass through a large buffer; the isomd5sum MD5
//! runs on a second thread over the same buffers, so implanting costs no second read.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::{io_err, IsoError};
use crate::isomd5::{self, Isomd5Hasher, Isomd5Sum};
use crate::layout::{Layout, SECTOR};
use crate::scan::DataObject;
use crate::{ImageSummary, IsoOptions, Progress};

const BUF_SIZE: usize = 4 << 20;
const POOL: usize = 4;

/// Writes the image of `source` to `output` atomically (temporary name, then rename).
pub fn write_image(
    source: &Path,
    output: &Path,
    options: &IsoOptions,
) -> Result<ImageSummary, IsoError> {
    let tree = crate::scan::scan(source)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let layout = Layout::plan(tree, options, now)?;
    let temp = TempOutput::create(output)?;
    let md5 = emit(
        &layout,
        &temp.file,
        &temp.path,
        options.implant_md5,
        options.progress.as_ref(),
    )?;
    let bytes = layout.total_sectors * SECTOR;
    temp.commit(output)?;
    Ok(ImageSummary {
        sectors: layout.total_sectors,
        bytes,
        implanted_md5: md5,
    })
}

/// A temporary file next to the output, removed on drop unless committed.
struct TempOutput {
    path: PathBuf,
    file: File,
    committed: bool,
}

impl TempOutput {
    fn create(output: &Path) -> Result<Self, IsoError> {
        let name = output.file_name().ok_or_else(|| {
            IsoError::BadOption(format!("output {} has no file name", output.display()))
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let path = output.with_file_name(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(TempOutput {
            path,
            file,
            committed: false,
        })
    }

    fn commit(mut self, output: &Path) -> Result<(), IsoError> {
        std::fs::rename(&self.path, output).map_err(io_err(output))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The MD5 thread: receives filled buffers, hashes them, returns them for reuse.
struct HashThread {
    to_hash: SyncSender<(Vec<u8>, usize)>,
    returned: Receiver<Vec<u8>>,
    handle: JoinHandle<Isomd5Hasher>,
}

/// Sequential writer of the image bytes.
struct Emitter<'a> {
    file: &'a File,
    path: &'a Path,
    buf: Vec<u8>,
    fill: usize,
    pos: u64,
    spare: Vec<Vec<u8>>,
    allocated: usize,
    hash: Option<HashThread>,
    progress: Option<&'a Progress>,
    total: u64,
}

impl<'a> Emitter<'a> {
    fn new(
        file: &'a File,
        path: &'a Path,
        hasher: Option<Isomd5Hasher>,
        progress: Option<&'a Progress>,
        total: u64,
    ) -> Self {
        let hash = hasher.map(|mut hasher| {
            let (to_hash, rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(POOL);
            let (back, returned) = mpsc::channel();
            let handle = std::thread::spawn(move || {
                for (buf, len) in rx {
                    hasher.update(&buf[..len]);
                    let _ = back.send(buf);
                }
                hasher
            });
            HashThread {
                to_hash,
                returned,
                handle,
            }
        });
        Emitter {
            file,
            path,
            buf: vec![0u8; BUF_SIZE],
            fill: 0,
            pos: 0,
            spare: Vec::new(),
            allocated: 1,
            hash,
            progress,
            total,
        }
    }

    fn flush(&mut self) -> Result<(), IsoError> {
        if self.fill == 0 {
            return Ok(());
        }
        (&*self.file)
            .write_all(&self.buf[..self.fill])
            .map_err(io_err(self.path))?;
        self.pos += self.fill as u64;
        if let Some(p) = self.progress {
            (p.0)(self.pos, self.total);
        }
        if let Some(h) = &self.hash {
            let next = match self.spare.pop() {
                Some(b) => b,
                None if self.allocated < POOL => {
                    self.allocated += 1;
                    vec![0u8; BUF_SIZE]
                }
                None => h.returned.recv().map_err(|_| hash_thread_gone(self.path))?,
            };
            let full = std::mem::replace(&mut self.buf, next);
            h.to_hash
                .send((full, self.fill))
                .map_err(|_| hash_thread_gone(self.path))?;
            while let Ok(b) = h.returned.try_recv() {
                self.spare.push(b);
            }
        }
        self.fill = 0;
        Ok(())
    }

    fn put(&mut self, mut bytes: &[u8]) -> Result<(), IsoError> {
        while !bytes.is_empty() {
            if self.fill == BUF_SIZE {
                self.flush()?;
            }
            let n = (BUF_SIZE - self.fill).min(bytes.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&bytes[..n]);
            self.fill += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn zeros(&mut self, mut n: u64) -> Result<(), IsoError> {
        while n > 0 {
            if self.fill == BUF_SIZE {
                self.flush()?;
            }
            let k = ((BUF_SIZE - self.fill) as u64).min(n) as usize;
            self.buf[self.fill..self.fill + k].fill(0);
            self.fill += k;
            n -= k as u64;
        }
        Ok(())
    }

    fn offset(&self) -> u64 {
        self.pos + self.fill as u64
    }

    /// Zero-fills up to the start of `lba` (which must not be behind the current offset).
    fn seek_lba(&mut self, lba: u64) -> Result<(), IsoError> {
        let target = lba * SECTOR;
        let here = self.offset();
        debug_assert!(target >= here, "layout went backwards: {target} < {here}");
        self.zeros(target.saturating_sub(here))
    }

    fn pad_sector(&mut self) -> Result<(), IsoError> {
        let rem = self.offset() % SECTOR;
        if rem != 0 {
            self.zeros(SECTOR - rem)?;
        }
        Ok(())
    }

    /// Copies a file's content, checking it has not changed since it was scanned.
    fn copy_file(&mut self, d: &DataObject) -> Result<(), IsoError> {
        let path = &d.path;
        let mut f = File::open(path).map_err(io_err(path))?;
        check_unchanged(&f, d)?;
        let mut left = d.size;
        while left > 0 {
            if self.fill == BUF_SIZE {
                self.flush()?;
            }
            let want = ((BUF_SIZE - self.fill) as u64).min(left) as usize;
            let n = f
                .read(&mut self.buf[self.fill..self.fill + want])
                .map_err(io_err(path))?;
            if n == 0 {
                return Err(IsoError::ChangedDuringWrite {
                    path: path.clone(),
                    what: format!("shrank below {} bytes", d.size),
                });
            }
            self.fill += n;
            left -= n as u64;
        }
        let mut probe = [0u8; 1];
        if f.read(&mut probe).map_err(io_err(path))? != 0 {
            return Err(IsoError::ChangedDuringWrite {
                path: path.clone(),
                what: format!("grew beyond {} bytes", d.size),
            });
        }
        check_unchanged(&f, d)?;
        self.pad_sector()
    }

    fn finish(mut self) -> Result<Option<Isomd5Sum>, IsoError> {
        self.flush()?;
        match self.hash.take() {
            None => Ok(None),
            Some(h) => {
                drop(h.to_hash);
                let hasher = h.handle.join().map_err(|_| hash_thread_gone(self.path))?;
                Ok(Some(hasher.finish()))
            }
        }
    }
}

fn hash_thread_gone(path: &Path) -> IsoError {
    IsoError::Io {
        path: path.to_path_buf(),
        cause: std::io::Error::other("the MD5 thread stopped unexpectedly"),
    }
}

fn check_unchanged(f: &File, d: &DataObject) -> Result<(), IsoError> {
    let m = f.metadata().map_err(io_err(&d.path))?;
    if m.len() != d.size {
        return Err(IsoError::ChangedDuringWrite {
            path: d.path.clone(),
            what: format!("size {} became {}", d.size, m.len()),
        });
    }
    if m.mtime() != d.mtime || m.mtime_nsec() != d.mtime_nsec {
        return Err(IsoError::ChangedDuringWrite {
            path: d.path.clone(),
            what: "modification time changed".into(),
        });
    }
    Ok(())
}

/// Writes the L then the M path table of the ECMA or Joliet tree.
fn write_path_tables(out: &mut Emitter, layout: &Layout, joliet: bool) -> Result<(), IsoError> {
    let pt = if joliet {
        layout.joliet_pt
    } else {
        layout.ecma_pt
    };
    out.seek_lba(u64::from(pt.l_lba))?;
    out.put(&layout.path_table(joliet, false))?;
    out.seek_lba(u64::from(pt.m_lba))?;
    out.put(&layout.path_table(joliet, true))?;
    out.pad_sector()
}

/// Writes every part of the image in LBA order; returns the implanted MD5 if any.
fn emit(
    layout: &Layout,
    file: &File,
    path: &Path,
    implant: bool,
    progress: Option<&Progress>,
) -> Result<Option<String>, IsoError> {
    let hasher = implant.then(|| Isomd5Hasher::new(layout.total_sectors));
    let total = layout.total_sectors * SECTOR;
    let mut out = Emitter::new(file, path, hasher, progress, total);
    out.zeros(16 * SECTOR)?;
    out.put(&layout.volume_descriptor(false))?;
    if !layout.joliet.is_empty() {
        out.put(&layout.volume_descriptor(true))?;
    }
    out.put(&Layout::terminator())?;
    for &d in &layout.ecma_order {
        out.seek_lba(u64::from(layout.ecma[d].lba))?;
        let (dir, ca) = layout.encode_ecma_dir(d);
        out.put(&dir)?;
        out.put(&ca.buf)?;
        out.pad_sector()?;
    }
    write_path_tables(&mut out, layout, false)?;
    if !layout.joliet.is_empty() {
        for &d in &layout.joliet_order {
            out.seek_lba(u64::from(layout.joliet[d].lba))?;
            out.put(&layout.encode_joliet_dir(d))?;
        }
        write_path_tables(&mut out, layout, true)?;
    }
    out.seek_lba(u64::from(layout.zero_lba))?;
    out.zeros(SECTOR)?;
    for d in &layout.tree.data {
        if d.size == 0 {
            continue;
        }
        out.seek_lba(u64::from(d.lba))?;
        out.copy_file(d)?;
    }
    out.seek_lba(layout.total_sectors)?;
    let sum = out.finish()?;
    if let Some(sum) = &sum {
        file.write_all_at(&isomd5::app_use_area(sum, false), isomd5::APP_USE_OFFSET)
            .map_err(io_err(path))?;
    }
    Ok(sum.map(|s| s.md5))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file rewritten between the scan and the copy is an error naming it, and the
    /// temporary output is removed.
    #[test]
    fn file_changed_after_scan_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("a.txt"), b"first").unwrap();
        std::fs::write(src.join("b.txt"), b"stable").unwrap();
        let tree = crate::scan::scan(&src).unwrap();
        let layout = Layout::plan(tree, &IsoOptions::metalk8s("T", Some(0)), 0).unwrap();
        std::fs::write(src.join("a.txt"), b"second, longer").unwrap();
        let output = dir.path().join("out.iso");
        let temp = TempOutput::create(&output).unwrap();
        let temp_path = temp.path.clone();
        let err = emit(&layout, &temp.file, &temp.path, true, None).unwrap_err();
        drop(temp);
        match err {
            IsoError::ChangedDuringWrite { path, .. } => assert!(path.ends_with("a.txt")),
            other => panic!("{other}"),
        }
        assert!(!temp_path.exists() && !output.exists());

        // Same size, new mtime.
        let tree = crate::scan::scan(&src).unwrap();
        let layout = Layout::plan(tree, &IsoOptions::default(), 0).unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(src.join("b.txt"))
            .unwrap();
        f.set_modified(std::time::UNIX_EPOCH).unwrap();
        let temp = TempOutput::create(&output).unwrap();
        let err = emit(&layout, &temp.file, &temp.path, false, None).unwrap_err();
        assert!(matches!(err, IsoError::ChangedDuringWrite { .. }), "{err}");
    }

    #[test]
    fn progress_reaches_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("big"), vec![1u8; 9 << 20]).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let opts = IsoOptions {
            progress: Some(Progress::new(move |done, total| {
                sink.lock().unwrap().push((done, total))
            })),
            ..IsoOptions::metalk8s("P", Some(0))
        };
        let summary = write_image(&src, &dir.path().join("p.iso"), &opts).unwrap();
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 3);
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(seen.last().copied(), Some((summary.bytes, summary.bytes)));
    }

    #[test]
    fn output_in_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_image(
            dir.path(),
            &dir.path().join("no/such/dir/x.iso"),
            &IsoOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, IsoError::Io { .. }), "{err}");
    }
}
