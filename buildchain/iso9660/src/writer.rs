//! Writes a planned image in one sequential pass. The main thread lays out directory records
//! and reads the sources into a bounded pool of buffers ([`crate::pipeline`]); the buffers
//! are written to the image, hashed for isomd5sum and for SHA-256 on threads of their own,
//! so reading, writing and hashing overlap and no byte is read twice. The image is written
//! with `O_DIRECT` where the file system allows it: straight from the pool to the disk,
//! without filling the page cache with gigabytes nobody reads back.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use buildchain_fs::AtomicFile;
use sha2::{Digest as _, Sha256};

use crate::error::{io_err, IsoError};
use crate::isomd5::{self, Isomd5Hasher};
use crate::layout::{Layout, SECTOR};
use crate::pipeline::{Buffer, Feed, Pipeline, StageStopped, ALIGN};
use crate::scan::DataObject;
use crate::{ImageSummary, IsoOptions, Progress};

/// Buffer size and count of the write pass (16 MiB in all), measured on the 2 GiB benchmark
/// tree (`ci/bench.sh iso`): 4 x 4 MiB, 3 x 512 KiB, 8 x 128 KiB and 32 x 256 KiB were no
/// faster; the MD5 thread is the bottleneck and never waits for a buffer.
const BUF_SIZE: usize = 1 << 20;
const BUFFERS: usize = 16;
/// The read-back for SHA-256 waits on the disk: fewer, larger reads (16 MiB in all).
const READ_BACK_SIZE: usize = 8 << 20;
const READ_BACK_BUFFERS: usize = 2;
/// Dirty pages are handed to the disk every this many bytes, so the fsync before the
/// rename finds little left to write.
const WRITEBACK_EVERY: u64 = 32 << 20;

/// Writes the image of `source` to `output` atomically (temporary name, fsync, rename).
pub fn write_image(
    source: &Path,
    output: &Path,
    options: &IsoOptions,
) -> Result<ImageSummary, IsoError> {
    check_output(output)?;
    let tree = crate::scan::scan(source)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let layout = Layout::plan(tree, options, now)?;
    if output.file_name().is_none() {
        return Err(IsoError::BadOption(format!(
            "output {} has no file name",
            output.display()
        )));
    }
    let temp = AtomicFile::create(output)?;
    let direct = open_direct(temp.temp_path());
    let sink = Sink {
        file: temp.file(),
        direct,
        path: temp.temp_path(),
    };
    let written = emit(&layout, &sink, options)?;
    drop(sink);
    temp.commit()?;
    Ok(ImageSummary {
        sectors: layout.total_sectors,
        bytes: layout.total_sectors * SECTOR,
        implanted_md5: written.md5,
        sha256: written.sha256,
    })
}

/// Refuses, before any work, an output that exists and is not a regular file: renaming
/// over `/dev/null` or a link would replace it, writing through is not atomic.
fn check_output(output: &Path) -> Result<(), IsoError> {
    use std::os::unix::fs::FileTypeExt;
    let kind = match std::fs::symlink_metadata(output) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(output)(e)),
        Ok(meta) => {
            let t = meta.file_type();
            if t.is_file() {
                return Ok(());
            }
            if t.is_symlink() {
                "a symbolic link"
            } else if t.is_dir() {
                "a directory"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_fifo() {
                "a FIFO"
            } else {
                "a socket"
            }
        }
    };
    Err(IsoError::OutputNotAFile {
        path: output.to_path_buf(),
        kind,
    })
}

/// What the pass computed besides the bytes.
#[derive(Debug)]
struct Written {
    md5: Option<String>,
    sha256: Option<String>,
}

/// Where the image goes: the temporary file, and a second descriptor on it opened with
/// `O_DIRECT` when the file system supports that.
struct Sink<'a> {
    file: &'a File,
    direct: Option<File>,
    path: &'a Path,
}

/// An `O_DIRECT` descriptor on `path`, or none where the file system refuses one (tmpfs,
/// some network and FUSE file systems): the buffered descriptor then does all the work.
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

/// The producer: lays the image bytes into pool buffers, in order.
struct Emitter<'p> {
    pipe: &'p mut Pipeline,
    path: &'p Path,
    buf: Buffer,
    fill: usize,
    pos: u64,
}

impl<'p> Emitter<'p> {
    fn new(pipe: &'p mut Pipeline, path: &'p Path) -> Result<Self, IsoError> {
        let buf = pipe.take().map_err(|_| stage_gone(path))?;
        Ok(Emitter {
            pipe,
            path,
            buf,
            fill: 0,
            pos: 0,
        })
    }

    /// Room left in the current buffer, handing it on first when it is full.
    fn room(&mut self) -> Result<usize, StageStopped> {
        if self.fill == self.buf.len() {
            self.flush()?;
        }
        Ok(self.buf.len() - self.fill)
    }

    fn flush(&mut self) -> Result<(), StageStopped> {
        if self.fill == 0 {
            return Ok(());
        }
        let next = self.pipe.take()?;
        let full = std::mem::replace(&mut self.buf, next);
        self.pipe.send(full, self.fill)?;
        self.pos += self.fill as u64;
        self.fill = 0;
        Ok(())
    }

    fn put(&mut self, mut bytes: &[u8]) -> Result<(), IsoError> {
        while !bytes.is_empty() {
            let n = self
                .room()
                .map_err(|_| stage_gone(self.path))?
                .min(bytes.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&bytes[..n]);
            self.fill += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn zeros(&mut self, mut n: u64) -> Result<(), IsoError> {
        while n > 0 {
            let k = (self.room().map_err(|_| stage_gone(self.path))? as u64).min(n) as usize;
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
        let mut f = open_source(d)?;
        check_unchanged(&f, d)?;
        let mut left = d.size;
        while left > 0 {
            let room = self.room().map_err(|_| stage_gone(self.path))?;
            let want = (room as u64).min(left) as usize;
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

    /// Hands on the last buffer; the stages end when the pipeline is dropped.
    fn finish(mut self) -> Result<(), IsoError> {
        self.flush().map_err(|_| stage_gone(self.path))
    }
}

/// The error of a producer whose stage stopped without saying why (a stage that fails
/// returns its own error, which the caller reports instead).
fn stage_gone(path: &Path) -> IsoError {
    IsoError::Io {
        path: path.to_path_buf(),
        cause: std::io::Error::other("a writer or hasher thread stopped unexpectedly"),
    }
}

/// Writes every chunk to the image in order, directly to the disk when the chunk is
/// aligned and the file system takes `O_DIRECT`, else through the page cache (then starting
/// write-back as it goes, so the fsync at the end has little left to do).
fn write_stage(
    feed: Feed,
    sink: &Sink,
    progress: Option<&Progress>,
    total: u64,
) -> Result<(), IsoError> {
    let mut direct = sink.direct.as_ref();
    let (mut pos, mut flushed) = (0u64, 0u64);
    for chunk in feed {
        let aligned = chunk.len().is_multiple_of(ALIGN)
            && (chunk.as_ptr() as usize).is_multiple_of(ALIGN)
            && pos.is_multiple_of(ALIGN as u64);
        let mut written = false;
        if let (Some(d), true) = (direct, aligned) {
            match d.write_all_at(&chunk, pos) {
                Ok(()) => written = true,
                // The file system takes the flag but not these writes: stop trying.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => direct = None,
                Err(e) => return Err(io_err(sink.path)(e)),
            }
        }
        if !written {
            sink.file
                .write_all_at(&chunk, pos)
                .map_err(io_err(sink.path))?;
        }
        pos += chunk.len() as u64;
        if !written && pos - flushed >= WRITEBACK_EVERY {
            start_writeback(sink.file, flushed, pos - flushed);
            flushed = pos;
        }
        if let Some(p) = progress {
            (p.0)(pos, total);
        }
    }
    Ok(())
}

/// Asks the kernel to start writing `[offset, offset + len)` to disk without waiting: the
/// fsync at the end then has little left to do. Advisory; failure changes nothing.
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is open
    // for as long as `file` is borrowed.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

fn md5_stage(feed: Feed, mut hasher: Isomd5Hasher) -> Isomd5Hasher {
    for chunk in feed {
        hasher.update(&chunk);
    }
    hasher
}

fn sha256_stage(feed: Feed) -> String {
    let mut hasher = Sha256::new();
    for chunk in feed {
        hasher.update(&chunk[..]);
    }
    hex::encode(hasher.finalize())
}

/// SHA-256 of the finished image, read back. Used when an isomd5sum is implanted: the sum
/// lands in the primary volume descriptor at byte 33,651 and is only known once every byte
/// has been hashed, so no SHA-256 of the final bytes can run alongside the MD5. The reads
/// (direct from the disk where possible, like the writes) overlap the hashing.
fn sha256_of_written(file: &File, path: &Path, len: u64) -> Result<String, IsoError> {
    use std::os::unix::fs::OpenOptionsExt;
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok();
    let mut pipe = Pipeline::new(READ_BACK_BUFFERS, READ_BACK_SIZE);
    let feed = pipe.stage();
    std::thread::scope(|s| {
        let hasher = s.spawn(move || sha256_stage(feed));
        let read = read_into(&mut pipe, direct.as_ref(), file, path, len);
        drop(pipe);
        let sum = join(hasher, path);
        read?;
        sum
    })
}

/// Feeds `[0, len)` of the image to the pipeline, through `direct` while it works.
fn read_into(
    pipe: &mut Pipeline,
    mut direct: Option<&File>,
    file: &File,
    path: &Path,
    len: u64,
) -> Result<(), IsoError> {
    let mut pos = 0u64;
    while pos < len {
        let mut buf = pipe.take().map_err(|_| stage_gone(path))?;
        let want = (len - pos).min(buf.len() as u64) as usize;
        // Direct reads take whole blocks; the buffer has room, the file ends at `len`.
        let block = want.next_multiple_of(ALIGN).min(buf.len());
        let got = match direct.map(|d| read_full_at(d, &mut buf[..block], pos)) {
            Some(Ok(n)) => n,
            Some(Err(e)) if e.raw_os_error() == Some(libc::EINVAL) => {
                direct = None;
                read_full_at(file, &mut buf[..want], pos).map_err(io_err(path))?
            }
            Some(Err(e)) => return Err(io_err(path)(e)),
            None => read_full_at(file, &mut buf[..want], pos).map_err(io_err(path))?,
        };
        let got = got.min(want);
        if got < want {
            return Err(IsoError::Io {
                path: path.to_path_buf(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the image ends at {} of {len} bytes", pos + got as u64),
                ),
            });
        }
        pipe.send(buf, got).map_err(|_| stage_gone(path))?;
        pos += got as u64;
    }
    Ok(())
}

/// Reads at `pos` until `buf` is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], pos + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Joins a stage thread, turning a panic into an error naming the image.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>, path: &Path) -> Result<T, IsoError> {
    handle.join().map_err(|_| stage_gone(path))
}

/// Opens a source file without following a link and without blocking (a FIFO put in
/// its place would block the open for ever); what `check_unchanged` then checks.
fn open_source(d: &DataObject) -> Result<File, IsoError> {
    buildchain_fs::open_no_follow(std::fs::OpenOptions::new().read(true), &d.path).map_err(|e| {
        if buildchain_fs::is_link_refusal(&e) {
            IsoError::ChangedDuringWrite {
                path: d.path.clone(),
                what: "became a symbolic link".into(),
            }
        } else {
            io_err(&d.path)(e)
        }
    })
}

fn check_unchanged(f: &File, d: &DataObject) -> Result<(), IsoError> {
    let m = f.metadata().map_err(io_err(&d.path))?;
    if !m.is_file() || (m.dev(), m.ino()) != (d.dev, d.ino) {
        return Err(IsoError::ChangedDuringWrite {
            path: d.path.clone(),
            what: "replaced by another file".into(),
        });
    }
    if (m.ctime(), m.ctime_nsec()) != (d.ctime, d.ctime_nsec) {
        return Err(IsoError::ChangedDuringWrite {
            path: d.path.clone(),
            what: "written to (its ctime changed)".into(),
        });
    }
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

/// Writes every part of the image in LBA order, through the write and hash stages.
fn emit(layout: &Layout, sink: &Sink, options: &IsoOptions) -> Result<Written, IsoError> {
    let (file, path) = (sink.file, sink.path);
    let total = layout.total_sectors * SECTOR;
    let implant = options.implant_md5;
    let mut pipe = Pipeline::new(BUFFERS, BUF_SIZE);
    let write_feed = pipe.stage();
    let md5_feed = implant.then(|| pipe.stage());
    let sha_feed = (options.sha256 && !implant).then(|| pipe.stage());
    let progress = options.progress.as_ref();
    let (produced, written, md5, mut sha256) = std::thread::scope(|s| {
        let writer = s.spawn(move || write_stage(write_feed, sink, progress, total));
        let md5 = md5_feed.map(|feed| {
            let hasher = Isomd5Hasher::new(layout.total_sectors);
            s.spawn(move || md5_stage(feed, hasher))
        });
        let sha = sha_feed.map(|feed| s.spawn(move || sha256_stage(feed)));
        let produced = produce(layout, &mut pipe, path);
        // Dropping the pipeline ends every feed, so each stage returns.
        drop(pipe);
        let written = join(writer, path);
        let md5 = md5.map(|h| join(h, path)).transpose();
        let sha = sha.map(|h| join(h, path)).transpose();
        (produced, written, md5, sha)
    });
    // A stage's own error says more than the producer's "stopped unexpectedly".
    written??;
    produced?;
    let md5 = md5?.map(|hasher| hasher.finish());
    if let Some(sum) = &md5 {
        file.write_all_at(&isomd5::app_use_area(sum, false), isomd5::APP_USE_OFFSET)
            .map_err(io_err(path))?;
        if options.sha256 {
            // Read back while the data goes to disk: the fsync before the rename then
            // costs nothing more.
            let (synced, sum) = std::thread::scope(|s| {
                let sync = s.spawn(|| file.sync_data());
                let sum = sha256_of_written(file, path, total);
                (sync.join(), sum)
            });
            synced
                .map_err(|_| stage_gone(path))?
                .map_err(io_err(path))?;
            sha256 = Ok(Some(sum?));
        }
    }
    Ok(Written {
        md5: md5.map(|s| s.md5),
        sha256: sha256?,
    })
}

/// Lays out the image bytes, in order, into the pipeline.
fn produce(layout: &Layout, pipe: &mut Pipeline, path: &Path) -> Result<(), IsoError> {
    let mut out = Emitter::new(pipe, path)?;
    out.zeros(16 * SECTOR)?;
    out.put(&layout.volume_descriptor(false))?;
    if !layout.joliet.is_empty() {
        out.put(&layout.volume_descriptor(true))?;
    }
    out.put(&Layout::terminator())?;
    for &d in &layout.ecma_extent_order {
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
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Emits `layout` into a temporary output next to `output` through the page cache;
    /// the temporary is removed when the returned guard drops.
    fn emit_beside(
        layout: &Layout,
        output: &Path,
        options: &IsoOptions,
    ) -> (Result<Written, IsoError>, AtomicFile) {
        let temp = AtomicFile::create(output).unwrap();
        let sink = Sink {
            file: temp.file(),
            direct: None,
            path: temp.temp_path(),
        };
        let result = emit(layout, &sink, options);
        drop(sink);
        (result, temp)
    }

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
        let opts = IsoOptions::metalk8s("T", Some(0));
        let (result, temp) = emit_beside(&layout, &output, &opts);
        let temp_path = temp.temp_path().to_path_buf();
        let err = result.unwrap_err();
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
        let err = emit_beside(&layout, &output, &IsoOptions::default())
            .0
            .unwrap_err();
        assert!(matches!(err, IsoError::ChangedDuringWrite { .. }), "{err}");
    }

    /// A source replaced by a FIFO after the scan is an error, not a read blocked for ever;
    /// an output that is a link, a directory or a FIFO is refused before any work.
    #[test]
    fn fifos_and_links_are_never_opened_through() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("z"), b"data").unwrap();
        let layout =
            Layout::plan(crate::scan::scan(&src).unwrap(), &IsoOptions::default(), 0).unwrap();
        std::fs::remove_file(src.join("z")).unwrap();
        let fifo = |p: &Path| {
            assert!(std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap()
                .success())
        };
        fifo(&src.join("z"));
        let output = dir.path().join("out.iso");
        let err = emit_beside(&layout, &output, &IsoOptions::default())
            .0
            .unwrap_err();
        assert!(
            matches!(&err, IsoError::ChangedDuringWrite { path, .. } if path.ends_with("z")),
            "{err}"
        );

        let link = dir.path().join("link.iso");
        std::os::unix::fs::symlink(&output, &link).unwrap();
        let pipe = dir.path().join("pipe.iso");
        fifo(&pipe);
        for (out, kind) in [
            (link, "a symbolic link"),
            (dir.path().to_path_buf(), "a directory"),
            (pipe, "a FIFO"),
        ] {
            let err = write_image(&src, &out, &IsoOptions::default()).unwrap_err();
            assert!(
                matches!(&err, IsoError::OutputNotAFile { kind: k, .. } if *k == kind),
                "{err}"
            );
        }
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
        assert!(matches!(err, IsoError::Output(_)), "{err}");
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }
}
