//! Where the image goes: written directly to the disk (`O_DIRECT`, ext4 here) or through
//! the page cache (a tmpfs), the bytes and sums are the same; a full disk is an error
//! naming the image and leaves nothing behind. Mounting needs root (CI runs as root).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A tmpfs of `size` mounted for the test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(tool("mount"))
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn build(src: &Path, out: &Path, sum: &Path) -> std::process::Output {
    run(mkiso()
        .args(METALK8S_FLAGS)
        .args(["-V", "OUTPUT 1.0", "--implantisomd5", "--sha256sum"])
        .arg(sum)
        .arg("-o")
        .arg(out)
        .arg(src)
        .env("SOURCE_DATE_EPOCH", "1700000000"))
}

fn sha256sum(path: &Path) -> String {
    let out = run_ok(Command::new(tool("sha256sum")).arg(path));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn direct_and_page_cache_writes_give_the_same_bytes_and_sums() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tricky_tree(&src);
    // A file over the pool size, and not a multiple of the 4 KiB direct-write block.
    std::fs::write(src.join("big.bin"), vec![7u8; (3 << 20) + 2048 + 5]).unwrap();
    let tmpfs = Tmpfs::mount("64m");
    let images: Vec<(PathBuf, PathBuf)> = [dir.path(), tmpfs.path()]
        .iter()
        .map(|d| (d.join("out.iso"), d.join("SHA256SUM")))
        .collect();
    for (iso, sum) in &images {
        let out = build(&src, iso, sum);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        run_ok(Command::new(tool("checkisomd5")).arg(iso));
        let line = std::fs::read_to_string(sum).unwrap();
        assert_eq!(
            line,
            format!("{}  out.iso\n", sha256sum(iso)),
            "{}",
            sum.display()
        );
    }
    let (a, b) = (&images[0].0, &images[1].0);
    assert!(
        std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

#[test]
fn a_full_disk_is_an_error_naming_the_image_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("big.bin"), vec![1u8; 4 << 20]).unwrap();
    let tmpfs = Tmpfs::mount("1m");
    let iso = tmpfs.path().join("out.iso");
    let out = build(&src, &iso, &tmpfs.path().join("SHA256SUM"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains("out.iso"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(tmpfs.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
