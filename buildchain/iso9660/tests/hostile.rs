//! Hostile and broken inputs: images that lie (extents past the end, loops, unsafe names,
//! absurd sizes, truncation, CE cycles), and source trees an image cannot hold. Each gives a
//! typed error, never a panic, and nothing is left at the output path.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use buildchain_iso9660::{write_image, CorruptKind, IsoError, IsoImage, IsoOptions, Tree};
use common::*;

fn small_image(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("file1.txt"), b"hello").unwrap();
    std::fs::write(src.join("sub/inner.txt"), vec![7u8; 5000]).unwrap();
    std::os::unix::fs::symlink("../file1.txt", src.join("sub/link")).unwrap();
    let iso = dir.join("small.iso");
    let mut opts = IsoOptions::metalk8s("SMALL", Some(1_700_000_000));
    opts.implant_md5 = false;
    write_image(&src, &iso, &opts).unwrap();
    iso
}

/// Offset of the directory record whose identifier is `ident` (first match).
fn record_offset(img: &[u8], ident: &[u8]) -> usize {
    let mut needle = vec![ident.len() as u8];
    needle.extend_from_slice(ident);
    img.windows(needle.len())
        .position(|w| w == needle.as_slice())
        .map(|p| p - 32)
        .unwrap_or_else(|| panic!("no record {}", String::from_utf8_lossy(ident)))
}

fn put_both32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
    img[at + 4..at + 8].copy_from_slice(&v.to_be_bytes());
}

fn open_mutated(
    dir: &Path,
    name: &str,
    mutate: impl FnOnce(&mut Vec<u8>),
) -> Result<IsoImage, IsoError> {
    let mut img = std::fs::read(small_image(dir)).unwrap();
    mutate(&mut img);
    let path = dir.join(name);
    std::fs::write(&path, &img).unwrap();
    IsoImage::open(&path)
}

fn corrupt_kind(r: Result<IsoImage, IsoError>) -> CorruptKind {
    match r {
        Err(IsoError::Corrupt { kind, .. }) => kind,
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected an error, the image was accepted"),
    }
}

#[test]
fn valid_small_image_reads() {
    let dir = tempfile::tempdir().unwrap();
    let img = IsoImage::open(&small_image(dir.path())).unwrap();
    assert_eq!(img.read_file("sub/inner.txt").unwrap(), vec![7u8; 5000]);
    assert!(matches!(
        img.read_file("nope"),
        Err(IsoError::NotFound { .. })
    ));
    assert!(matches!(
        img.read_file("sub"),
        Err(IsoError::NotAFile { .. })
    ));
}

#[test]
fn truncated_image() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "t.iso", |img| {
        img.truncate(img.len() - 4096)
    }));
    assert!(matches!(kind, CorruptKind::Truncated { .. }), "{kind}");
}

#[test]
fn extent_beyond_end() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "e.iso", |img| {
        let at = record_offset(img, b"FILE1.TXT;1");
        put_both32(img, at + 2, 0x00FF_FFFF);
    }));
    assert!(
        matches!(kind, CorruptKind::ExtentOutOfBounds { .. }),
        "{kind}"
    );
}

#[test]
fn absurd_size() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "s.iso", |img| {
        let at = record_offset(img, b"FILE1.TXT;1");
        put_both32(img, at + 10, 0xFFFF_FFFF);
    }));
    assert!(
        matches!(kind, CorruptKind::ExtentOutOfBounds { .. }),
        "{kind}"
    );
}

#[test]
fn directory_loop() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "l.iso", |img| {
        // Point "deeper" back at the root directory's extent.
        let root_lba = u32::from_le_bytes(img[32768 + 158..32768 + 162].try_into().unwrap());
        let at = record_offset(img, b"DEEPER");
        put_both32(img, at + 2, root_lba);
    }));
    assert!(matches!(kind, CorruptKind::DirectoryLoop { .. }), "{kind}");
}

fn nm_name_offset(img: &[u8], name: &[u8]) -> usize {
    let mut needle = b"NM".to_vec();
    needle.push(5 + name.len() as u8);
    needle.push(1);
    needle.push(0);
    needle.extend_from_slice(name);
    img.windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap()
        + 5
}

#[test]
fn name_with_slash() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "n.iso", |img| {
        let at = nm_name_offset(img, b"file1.txt");
        img[at + 2] = b'/';
    }));
    assert!(matches!(kind, CorruptKind::UnsafeName { .. }), "{kind}");
}

#[test]
fn name_dot_dot() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "d.iso", |img| {
        // "deeper" -> NM of 2 bytes ".." (LEN 7) padded with a PD-like tail.
        let at = nm_name_offset(img, b"deeper");
        img[at - 3] = 7;
        img[at] = b'.';
        img[at + 1] = b'.';
    }));
    assert!(matches!(kind, CorruptKind::UnsafeName { .. }), "{kind}");
}

#[test]
fn duplicate_names() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "dup.iso", |img| {
        // Rename "sub" (Rock Ridge) to "file1.txt"'s first three bytes: "fil".
        let at = nm_name_offset(img, b"sub");
        img[at..at + 3].copy_from_slice(b"fil");
        let at = nm_name_offset(img, b"file1.txt");
        img[at - 3] = 8;
    }));
    assert!(matches!(kind, CorruptKind::DuplicateName { .. }), "{kind}");
}

#[test]
fn continuation_area_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "ce.iso", |img| {
        // Replace file1.txt's TF and NM by a CE that points at itself, forever.
        let rec = record_offset(img, b"FILE1.TXT;1");
        let len = img[rec] as usize;
        let tf = rec
            + img[rec..rec + len]
                .windows(4)
                .position(|w| w == b"TF\x1a\x01")
                .unwrap();
        let abs = tf as u32;
        let mut ce = b"CE\x1c\x01".to_vec();
        for v in [abs / 2048, abs % 2048, 28] {
            ce.extend_from_slice(&v.to_le_bytes());
            ce.extend_from_slice(&v.to_be_bytes());
        }
        img[tf..rec + len].fill(0);
        img[tf..tf + 28].copy_from_slice(&ce);
    }));
    assert!(matches!(kind, CorruptKind::BadSusp { .. }), "{kind}");
}

#[test]
fn record_crossing_sector() {
    let dir = tempfile::tempdir().unwrap();
    let kind = corrupt_kind(open_mutated(dir.path(), "x.iso", |img| {
        // Stretch the last record of the root directory's first sector past the sector end.
        let root_lba =
            u32::from_le_bytes(img[32768 + 158..32768 + 162].try_into().unwrap()) as usize;
        let start = root_lba * 2048;
        let mut p = start;
        let mut last = p;
        while p < start + 2048 && img[p] != 0 {
            last = p;
            p += img[p] as usize;
        }
        let _ = last;
        // A record of zeros after the last one: no identifier, and it may cross the sector.
        img[p] = 254;
    }));
    assert!(matches!(kind, CorruptKind::BadRecord { .. }), "{kind}");
}

#[test]
fn not_an_iso() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("zero.iso");
    std::fs::write(&p, vec![0u8; 100_000]).unwrap();
    assert!(matches!(IsoImage::open(&p), Err(IsoError::NotIso { .. })));
    std::fs::write(&p, b"short").unwrap();
    assert!(matches!(IsoImage::open(&p), Err(IsoError::NotIso { .. })));
    assert!(matches!(
        IsoImage::open(&dir.path().join("missing.iso")),
        Err(IsoError::Io { .. })
    ));
    // Forcing a tree the image does not have.
    let iso = small_image(dir.path());
    let plain = dir.path().join("plain.iso");
    let opts = IsoOptions {
        padding_sectors: 0,
        ..IsoOptions::default()
    };
    write_image(&dir.path().join("src"), &plain, &opts).unwrap();
    assert!(matches!(
        IsoImage::open_with(&plain, Some(Tree::RockRidge)),
        Err(IsoError::NotIso { .. })
    ));
    assert!(matches!(
        IsoImage::open_with(&plain, Some(Tree::Joliet)),
        Err(IsoError::NotIso { .. })
    ));
    assert_eq!(IsoImage::open(&plain).unwrap().tree(), Tree::Plain);
    assert_eq!(IsoImage::open(&iso).unwrap().tree(), Tree::RockRidge);
}

#[test]
fn extract_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let img = IsoImage::open(&small_image(dir.path())).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink("/tmp", out.join("sub")).unwrap();
    assert!(matches!(
        img.extract(&out),
        Err(IsoError::ExtractTargetExists { .. })
    ));
}

// ---- source trees an image cannot hold -------------------------------------------------

fn assert_no_output(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("iso"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn mkiso_fails(dir: &Path, src: &Path, extra: &[&str]) -> String {
    let out = dir.join("out").join("x.iso");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = run(mkiso()
        .args(METALK8S_FLAGS)
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(src));
    assert!(!o.status.success(), "mkiso succeeded");
    assert_no_output(out.parent().unwrap());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_source() {
    let dir = tempfile::tempdir().unwrap();
    let err = mkiso_fails(dir.path(), &dir.path().join("nope"), &[]);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn socket_and_fifo_are_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("ok.txt"), b"x").unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(src.join("the.sock")).unwrap();
    let err = mkiso_fails(dir.path(), &src, &[]);
    assert!(err.contains("the.sock") && err.contains("socket"), "{err}");
    std::fs::remove_file(src.join("the.sock")).unwrap();
    run_ok(std::process::Command::new(tool("mkfifo")).arg(src.join("the.fifo")));
    let err = mkiso_fails(dir.path(), &src, &[]);
    assert!(err.contains("the.fifo") && err.contains("FIFO"), "{err}");
}

#[test]
fn non_utf8_name_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    std::fs::write(src.join(name), b"x").unwrap();
    let err = mkiso_fails(dir.path(), &src, &[]);
    assert!(err.contains("bad-") && err.contains("UTF-8"), "{err}");
}

#[test]
fn unreadable_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("locked")).unwrap();
    std::fs::write(src.join("locked/f"), b"x").unwrap();
    // As root permissions do not stop us; a directory that vanishes does.
    let out = dir.path().join("out.iso");
    let opts = IsoOptions::metalk8s("X", None);
    std::fs::remove_dir_all(src.join("locked")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", src.join("locked")).unwrap();
    write_image(&src, &out, &opts).unwrap(); // a dangling symlink is fine
    assert!(matches!(
        write_image(
            &dir.path().join("src/locked"),
            &dir.path().join("o2.iso"),
            &opts
        ),
        Err(IsoError::Io { .. })
    ));
    assert!(!dir.path().join("o2.iso").exists());
}

#[test]
fn bad_flags_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let err = mkiso_fails(dir.path(), &src, &["-frobnicate"]);
    assert!(err.contains("unknown option -frobnicate"), "{err}");
    let err = mkiso_fails(dir.path(), &src, &["-input-charset", "iso8859-1"]);
    assert!(err.contains("iso8859-1"), "{err}");
    let err = mkiso_fails(
        dir.path(),
        &src,
        &["-V", "A VOLUME ID THAT IS FAR TOO LONG FOR ISO"],
    );
    assert!(err.contains("volume id"), "{err}");
    let err = mkiso_fails(dir.path(), &src, &["--iso-level", "9"]);
    assert!(err.contains("9: expected 1, 2 or 3"), "{err}");
    // The sum file is checked before the image is written.
    let err = mkiso_fails(
        dir.path(),
        &src,
        &[
            "--sha256sum",
            &dir.path().join("out/x.iso").display().to_string(),
        ],
    );
    assert!(err.contains("is the image itself"), "{err}");
    let err = mkiso_fails(dir.path(), &src, &["--sha256sum", "/no/such/dir/SUM"]);
    assert!(err.contains("no directory /no/such/dir"), "{err}");
    // Level 4 (ISO 9660:1999) is refused rather than written as level 3.
    let err = mkiso_fails(dir.path(), &src, &["-iso-level", "4"]);
    assert!(err.contains("4 (ISO 9660:1999) is not supported"), "{err}");
    // A missing source is named once, with its cause said once.
    let err = mkiso_fails(dir.path(), &dir.path().join("missing"), &[]);
    assert_eq!(err.matches("missing").count(), 1, "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    let o = run(mkiso()
        .arg("-o")
        .arg(dir.path().join("y.iso"))
        .arg(&src)
        .env("SOURCE_DATE_EPOCH", "yesterday"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("SOURCE_DATE_EPOCH"));
}

#[test]
fn deep_tree_without_rock_ridge_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("1/2/3/4/5/6/7/8/9")).unwrap();
    let out = dir.path().join("o.iso");
    let r = write_image(&src, &out, &IsoOptions::default());
    assert!(
        matches!(r, Err(IsoError::TooDeepWithoutRockRidge { .. })),
        "{r:?}"
    );
    assert!(!out.exists());
}

#[test]
fn isomd5_on_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.iso");
    std::fs::write(&p, vec![1u8; 50_000]).unwrap();
    assert_eq!(
        isomd5().arg("check").arg(&p).status().unwrap().code(),
        Some(2)
    );
    assert_eq!(
        isomd5().arg("implant").arg(&p).status().unwrap().code(),
        Some(2)
    );
    assert_eq!(
        isomd5()
            .arg("check")
            .arg(dir.path().join("missing"))
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
    // Truncated after implanting: a failure, not a pass.
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), vec![3u8; 200_000]).unwrap();
    let iso = dir.path().join("t.iso");
    write_image(&src, &iso, &IsoOptions::metalk8s("T", None)).unwrap();
    let mut bytes = std::fs::read(&iso).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&iso, &bytes).unwrap();
    assert_eq!(
        isomd5().arg("check").arg(&iso).status().unwrap().code(),
        Some(1)
    );
}
