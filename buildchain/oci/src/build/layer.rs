//! Reproducible layer tarballs: sorted entries, owner 0:0, mtimes clamped to
//! SOURCE_DATE_EPOCH, gzip with a fixed header (no name, no mtime).

use super::definition::{image_path, ImageDefinition, LayerSpec};
use super::BuildContext;
use crate::OciError;
use buildchain_oci_types::{Digest, HashingWriter};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One entry of a layer, keyed by its tar path.
#[derive(Debug, Clone)]
enum Entry {
    Dir {
        mode: u32,
        mtime: u64,
    },
    File {
        source: PathBuf,
        mode: u32,
        mtime: u64,
        size: u64,
    },
    Symlink {
        target: String,
        mtime: u64,
    },
}

/// A finished layer blob.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    /// Digest of the gzip'd tar (the blob).
    pub digest: Digest,
    /// Digest of the uncompressed tar (the config's diff_id).
    pub diff_id: Digest,
    /// Size of the blob.
    pub size: u64,
    pub comment: String,
}

/// The source files a layer reads (for up-to-date checks), sorted.
pub(crate) fn layer_inputs(
    def: &ImageDefinition,
    layer: &LayerSpec,
    ctx: &BuildContext,
) -> Result<Vec<PathBuf>, OciError> {
    let entries = collect(def, layer, ctx)?;
    let mut files: Vec<PathBuf> = entries
        .into_values()
        .filter_map(|e| match e {
            Entry::File { source, .. } => Some(source),
            _ => None,
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Writes layer `index` of `def` into `out_dir` as `<hex of its digest>`.
pub(crate) fn build_layer(
    def: &ImageDefinition,
    index: usize,
    ctx: &BuildContext,
    out_dir: &Path,
) -> Result<LayerBlob, OciError> {
    let layer = &def.layers[index];
    let entries = collect(def, layer, ctx)?;
    let fail = |detail: String| OciError::Build {
        image: def.name.clone(),
        detail: format!("layer {index}: {detail}"),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".layer-")
        .tempfile_in(out_dir)
        .map_err(|e| OciError::io(out_dir, e))?;
    let compressed = HashingWriter::new(std::io::BufWriter::with_capacity(256 << 10, tmp));
    let gzip = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(compressed, flate2::Compression::default());
    let uncompressed = HashingWriter::new(gzip);
    let mut tar = tar::Builder::new(uncompressed);
    for (path, entry) in &entries {
        append(&mut tar, path, entry).map_err(|e| fail(format!("{path}: {e}")))?;
    }
    let uncompressed = tar
        .into_inner()
        .map_err(|e| fail(format!("finishing the tar: {e}")))?;
    let (gzip, diff_id, _) = uncompressed.finish();
    let compressed = gzip
        .finish()
        .map_err(|e| fail(format!("finishing the gzip stream: {e}")))?;
    let (buffered, digest, size) = compressed.finish();
    let file = buffered
        .into_inner()
        .map_err(|e| OciError::io(out_dir, e.into_error()))?;
    let target = out_dir.join(digest.hex());
    // Served by an unprivileged nginx: world-readable, as skopeo leaves blobs.
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| OciError::io(file.path(), e))?;
    file.persist(&target)
        .map_err(|e| OciError::io(&target, e.error))?;
    Ok(LayerBlob {
        digest,
        diff_id,
        size,
        comment: layer.comment.clone(),
    })
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, entry: &Entry) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_uid(0);
    header.set_gid(0);
    match entry {
        Entry::Dir { mode, mtime } => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(*mode);
            header.set_mtime(*mtime);
            header.set_size(0);
            tar.append_data(&mut header, format!("{path}/"), std::io::empty())
        }
        Entry::File {
            source,
            mode,
            mtime,
            size,
        } => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(*mode);
            header.set_mtime(*mtime);
            header.set_size(*size);
            let file = std::fs::File::open(source)?;
            tar.append_data(
                &mut header,
                path,
                ExactReader {
                    inner: file.take(*size),
                    left: *size,
                },
            )
        }
        Entry::Symlink { target, mtime } => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_mtime(*mtime);
            header.set_size(0);
            tar.append_link(&mut header, path, target)
        }
    }
}

/// Reads exactly the size recorded in the header; a file that shrank is an error.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::other("file shrank while being archived"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Gathers a layer's entries, sorted by path, with implicit parent directories.
fn collect(
    def: &ImageDefinition,
    layer: &LayerSpec,
    ctx: &BuildContext,
) -> Result<BTreeMap<String, Entry>, OciError> {
    let sde = ctx.source_date_epoch;
    let definition = def.definition_file();
    let fail = |detail: String| OciError::Definition {
        image: def.name.clone(),
        path: definition.clone(),
        detail,
    };
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let insert = |entries: &mut BTreeMap<String, Entry>, path: String, entry: Entry| {
        if entries.insert(path.clone(), entry).is_some() {
            Err(fail(format!("/{path} is given twice in one layer")))
        } else {
            Ok(())
        }
    };
    for spec in &layer.files {
        let root = def.source_root(spec.from, ctx)?;
        let src = root.join(&spec.src);
        let dest =
            image_path(&spec.dest).map_err(|d| fail(format!("dest {:?}: {d}", spec.dest)))?;
        let meta = std::fs::symlink_metadata(&src)
            .map_err(|e| fail(format!("file {:?} ({}): {e}", spec.src, src.display())))?;
        // Symlinked directories on the way must not lead out of the source root.
        let inside = match (root.canonicalize(), src.parent().map(Path::canonicalize)) {
            (Ok(r), Some(Ok(p))) => p.starts_with(r),
            _ => false,
        };
        if !inside {
            return Err(fail(format!(
                "file {:?} leads out of {} through a symlink",
                spec.src,
                root.display()
            )));
        }
        if meta.is_dir() {
            for item in walkdir::WalkDir::new(&src)
                .follow_links(false)
                .sort_by_file_name()
                .min_depth(1)
            {
                let item = item.map_err(|e| fail(format!("reading {}: {e}", src.display())))?;
                let rel = item.path().strip_prefix(&src).unwrap_or(item.path());
                let rel = rel.to_str().ok_or_else(|| {
                    fail(format!("{} is not a UTF-8 path", item.path().display()))
                })?;
                let meta = item
                    .metadata()
                    .map_err(|e| fail(format!("reading {}: {e}", item.path().display())))?;
                let entry = source_entry(item.path(), &meta, spec.mode, sde).map_err(&fail)?;
                insert(&mut entries, format!("{dest}/{rel}"), entry)?;
            }
            entries.entry(dest).or_insert(Entry::Dir {
                mode: 0o755,
                mtime: sde,
            });
        } else {
            let dest = if spec.dest.ends_with('/') {
                let file_name = src.file_name().and_then(|n| n.to_str()).unwrap_or("file");
                format!("{dest}/{file_name}")
            } else {
                dest
            };
            let entry = source_entry(&src, &meta, spec.mode, sde).map_err(&fail)?;
            insert(&mut entries, dest, entry)?;
        }
    }
    for d in &layer.dirs {
        let path = image_path(&d.path).map_err(|e| fail(format!("dir {:?}: {e}", d.path)))?;
        if let Some(Entry::Dir { .. }) | None = entries.get(&path) {
            entries.insert(
                path,
                Entry::Dir {
                    mode: d.mode,
                    mtime: sde,
                },
            );
        } else {
            return Err(fail(format!(
                "dir {:?} is also a file or symlink of the layer",
                d.path
            )));
        }
    }
    for s in &layer.symlinks {
        let path = image_path(&s.path).map_err(|e| fail(format!("symlink {:?}: {e}", s.path)))?;
        insert(
            &mut entries,
            path,
            Entry::Symlink {
                target: s.target.clone(),
                mtime: sde,
            },
        )?;
    }
    let paths: Vec<String> = entries.keys().cloned().collect();
    for path in paths {
        let mut parent = path.as_str();
        while let Some((p, _)) = parent.rsplit_once('/') {
            match entries.get(p) {
                Some(Entry::Dir { .. }) => {}
                Some(_) => {
                    return Err(fail(format!(
                        "/{p} is a file or symlink but /{path} is below it"
                    )))
                }
                None => {
                    entries.insert(
                        p.to_string(),
                        Entry::Dir {
                            mode: 0o755,
                            mtime: sde,
                        },
                    );
                }
            }
            parent = p;
        }
    }
    Ok(entries)
}

fn source_entry(
    path: &Path,
    meta: &std::fs::Metadata,
    mode: Option<u32>,
    sde: u64,
) -> Result<Entry, String> {
    let mtime = u64::try_from(meta.mtime()).unwrap_or(0).min(sde);
    let kind = meta.file_type();
    if kind.is_dir() {
        Ok(Entry::Dir {
            mode: 0o755,
            mtime: sde,
        })
    } else if kind.is_file() {
        let exec = meta.permissions().mode() & 0o100 != 0;
        Ok(Entry::File {
            source: path.to_path_buf(),
            mode: mode.unwrap_or(if exec { 0o755 } else { 0o644 }),
            mtime,
            size: meta.len(),
        })
    } else if kind.is_symlink() {
        let target = std::fs::read_link(path)
            .map_err(|e| format!("reading link {}: {e}", path.display()))?;
        let target = target
            .to_str()
            .ok_or_else(|| format!("link {} has a non UTF-8 target", path.display()))?
            .to_string();
        Ok(Entry::Symlink { target, mtime })
    } else {
        Err(format!(
            "{} is not a regular file, directory or symlink",
            path.display()
        ))
    }
}
