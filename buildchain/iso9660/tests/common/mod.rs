//! Shared helpers of the integration tests: the tricky source tree, tool lookup, tree
//! comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, UNIX_EPOCH};

/// Fails (never skips) when a tool the test needs is missing.
pub fn tool(name: &str) -> PathBuf {
    buildchain_testkit::require_tool(name)
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn mkiso() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mkiso"))
}

pub fn isomd5() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isomd5"))
}

/// The MetalK8s mkisofs flags.
pub const METALK8S_FLAGS: &[&str] = &[
    "-quiet",
    "-rock",
    "-joliet",
    "-joliet-long",
    "-full-iso9660-filenames",
    "--iso-level",
    "3",
    "-uid",
    "0",
    "-gid",
    "0",
    "-input-charset",
    "utf-8",
    "-output-charset",
    "utf-8",
];

fn set_mtime(path: &Path, secs: u64) {
    let f = std::fs::File::open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

pub const LONG_NAME_LEN: usize = 130;

/// The tree of the issue: unicode names, 120+ character names, 12-deep directories,
/// absolute/relative/dangling symlinks, hardlinks, empty files and directories, modes 600
/// and 755, old mtimes; plus long symlink targets, 255-byte names, colliding ISO names and a
/// directory spanning several sectors.
pub fn tricky_tree(root: &Path) {
    let w = |p: &str, data: &[u8]| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
    };
    std::fs::create_dir_all(root).unwrap();
    w("file1.txt", b"hello world\n");
    std::fs::hard_link(root.join("file1.txt"), root.join("hardlink.txt")).unwrap();
    w(
        "sub/inner.bin",
        &(0..100_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>(),
    );
    std::fs::hard_link(root.join("sub/inner.bin"), root.join("inner-link.bin")).unwrap();
    w(
        "héllo wörld/ünïcödé ✓ 😀.md",
        "unicode content ✓\n".as_bytes(),
    );
    w("日本語/ファイル.txt", "こんにちは\n".as_bytes());
    let long = format!("{}.txt", "long-name-".repeat(LONG_NAME_LEN / 10));
    w(&long, b"long name\n");
    w(&format!("{}.dat", "z".repeat(251)), b"max name\n");
    let deep: String = (1..=12).map(|i| format!("level{i}/")).collect();
    w(&format!("{deep}deep.txt"), b"twelve levels down\n");
    w("level1/level2/sibling.txt", b"sibling\n");
    // A second directory named level8 at depth 9: both land in rr_moved (name clash there).
    w("twin/2/3/4/5/6/7/level8/twin.txt", b"relocated twin\n");
    std::fs::create_dir_all(root.join("emptydir/nested-empty")).unwrap();
    w("empty.txt", b"");
    w("private.txt", b"secret\n");
    std::fs::set_permissions(
        root.join("private.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    w("tool.sh", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(root.join("tool.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    for n in ["a-b.txt", "a_b.txt", "A+B.txt", "a b.TXT"] {
        w(&format!("collide/{n}"), n.as_bytes());
    }
    for i in 0..150 {
        w(
            &format!("many/file-number-{i:04}.conf"),
            format!("{i}\n").as_bytes(),
        );
    }
    std::os::unix::fs::symlink("/etc/hostname", root.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../file1.txt", root.join("sub/rel-link")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", root.join("dangling-link")).unwrap();
    let long_target: String = (0..40)
        .map(|i| format!("component-{i:02}"))
        .collect::<Vec<_>>()
        .join("/");
    std::os::unix::fs::symlink(&long_target, root.join("long-target-link")).unwrap();
    // Old mtimes, set last (files first, then directories bottom-up).
    set_mtime(&root.join("file1.txt"), 315_532_800); // 1980-01-01
    set_mtime(&root.join("private.txt"), 86_400 * 365);
    set_mtime(&root.join("empty.txt"), 1_000_000_000);
    set_mtime(&root.join("sub"), 500_000_000);
}

#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(PathBuf),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub mode: u32,
    pub mtime: Option<i64>,
}

/// Snapshot of a tree: relative path -> kind/content, permission bits, mtime (files only:
/// directory mtimes change when extractors create entries).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Meta> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let kind = if m.file_type().is_symlink() {
                Kind::Symlink(std::fs::read_link(&p).unwrap())
            } else if m.is_dir() {
                stack.push(p.clone());
                Kind::Dir
            } else {
                Kind::File(std::fs::read(&p).unwrap())
            };
            let is_file = matches!(kind, Kind::File(_));
            let is_link = matches!(kind, Kind::Symlink(_));
            out.insert(
                rel,
                Meta {
                    kind,
                    mode: if is_link { 0 } else { m.mode() & 0o7777 },
                    mtime: is_file.then(|| m.mtime()),
                },
            );
        }
    }
    out
}

/// Asserts two snapshots are equal, listing every difference.
pub fn assert_same(
    expected: &BTreeMap<PathBuf, Meta>,
    actual: &BTreeMap<PathBuf, Meta>,
    what: &str,
) {
    let mut problems = Vec::new();
    for (p, m) in expected {
        match actual.get(p) {
            None => problems.push(format!("missing {}", p.display())),
            Some(a) if a != m => problems.push(format!(
                "differs {}: expected mode {:o} mtime {:?} {:?}, got mode {:o} mtime {:?} {:?}",
                p.display(),
                m.mode,
                m.mtime,
                short(&m.kind),
                a.mode,
                a.mtime,
                short(&a.kind)
            )),
            _ => {}
        }
    }
    for p in actual.keys() {
        if !expected.contains_key(p) {
            problems.push(format!("unexpected {}", p.display()));
        }
    }
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

fn short(k: &Kind) -> String {
    match k {
        Kind::File(d) => format!("file {} bytes", d.len()),
        Kind::Dir => "dir".into(),
        Kind::Symlink(t) => format!("symlink -> {}", t.display()),
    }
}

pub fn diff_r(a: &Path, b: &Path) {
    run_ok(
        Command::new(tool("diff"))
            .arg("-r")
            .arg("--no-dereference")
            .arg(a)
            .arg(b),
    );
}
