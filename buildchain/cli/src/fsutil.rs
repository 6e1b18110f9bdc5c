//! Small file-tree helpers: listing, copying (permission bits kept) and rendering.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::templates;

/// Copies the tree `src` into the existing directory `dst`: files keep their permission
/// bits, symlinks are recreated, `*.in` files are rendered (to the name without `.in`)
/// when `render` is given. Sockets, FIFOs and devices are refused.
pub fn copy_tree(src: &Path, dst: &Path, render: Option<&Value>) -> Result<()> {
    let entries = match fs::read_dir(src) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", src.display())),
    };
    let mut entries: Vec<fs::DirEntry> = entries
        .collect::<io::Result<_>>()
        .with_context(|| format!("{}: cannot read", src.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let name = entry.file_name();
        let meta = fs::symlink_metadata(&from)
            .with_context(|| format!("{}: cannot read", from.display()))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            let to = dst.join(&name);
            fs::create_dir(&to).with_context(|| format!("{}: cannot create", to.display()))?;
            copy_tree(&from, &to, render)?;
            fs::set_permissions(
                &to,
                fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
            )
            .with_context(|| format!("{}: cannot set permissions", to.display()))?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&from)
                .with_context(|| format!("{}: cannot read link", from.display()))?;
            std::os::unix::fs::symlink(&target, dst.join(&name))
                .with_context(|| format!("{}: cannot create link", dst.join(&name).display()))?;
        } else if ft.is_file() {
            let mode = meta.permissions().mode() & 0o7777;
            let name_str = name.to_string_lossy();
            match (render, name_str.strip_suffix(".in")) {
                (Some(ctx), Some(stem)) if !stem.is_empty() => {
                    let text = templates::render_file(&from, ctx)?;
                    write_file(&dst.join(stem), text.as_bytes(), mode)?;
                }
                _ => {
                    let to = dst.join(&name);
                    fs::copy(&from, &to).with_context(|| {
                        format!("cannot copy {} to {}", from.display(), to.display())
                    })?;
                    fs::set_permissions(&to, fs::Permissions::from_mode(mode))?;
                }
            }
        } else {
            bail!(
                "{}: not a regular file, directory or symlink",
                from.display()
            );
        }
    }
    Ok(())
}

/// Writes a new file with the given permission bits (inside a directory being built).
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    Ok(buildchain_fs::write_new(path, bytes, mode)?)
}

/// Permission bits of a file.
pub fn mode_of(path: &Path) -> Result<u32> {
    Ok(fs::metadata(path)
        .with_context(|| format!("{}: cannot read", path.display()))?
        .permissions()
        .mode()
        & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_with_modes_and_renders() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("sub")).unwrap();
        write_file(
            &src.path().join("sub/run.sh.in"),
            b"echo {{version}}",
            0o755,
        )
        .unwrap();
        write_file(&src.path().join("plain.sls"), b"{{ salt['x'] }}", 0o640).unwrap();
        copy_tree(
            src.path(),
            dst.path(),
            Some(&serde_json::json!({"version": "1"})),
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dst.path().join("sub/run.sh")).unwrap(),
            "echo 1"
        );
        assert_eq!(mode_of(&dst.path().join("sub/run.sh")).unwrap(), 0o755);
        assert_eq!(
            fs::read_to_string(dst.path().join("plain.sls")).unwrap(),
            "{{ salt['x'] }}"
        );
        assert_eq!(mode_of(&dst.path().join("plain.sls")).unwrap(), 0o640);
        assert_eq!(buildchain_fs::files_under(src.path()).unwrap().len(), 2);
    }
}
