//! Images written by mkiso, read by the real tools: bsdtar, xorriso, 7z, isoinfo,
//! checkisomd5; and genisoimage/implantisomd5 output read by ours.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use buildchain_iso9660::isomd5::{self, CheckOutcome};
use buildchain_iso9660::{EntryKind, IsoImage, Tree};
use common::*;

fn build(src: &Path, out: &Path, extra: &[&str], sde: Option<&str>) {
    let mut cmd = mkiso();
    cmd.args(METALK8S_FLAGS)
        .args(extra)
        .arg("-V")
        .arg("METALK8S 2.0.0")
        .arg("-o")
        .arg(out)
        .arg(src);
    match sde {
        Some(s) => cmd.env("SOURCE_DATE_EPOCH", s),
        None => cmd.env_remove("SOURCE_DATE_EPOCH"),
    };
    run_ok(&mut cmd);
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
    iso: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let src = root.join("src");
    tricky_tree(&src);
    let iso = root.join("out.iso");
    build(&src, &iso, &["--implantisomd5"], None);
    Fixture {
        _dir: dir,
        root,
        src,
        iso,
    }
}

#[test]
fn bsdtar_extracts_identical_tree() {
    let f = fixture();
    let out = f.root.join("bsdtar");
    std::fs::create_dir(&out).unwrap();
    run_ok(
        Command::new(tool("bsdtar"))
            .arg("-xf")
            .arg(&f.iso)
            .arg("-C")
            .arg(&out),
    );
    diff_r(&f.src, &out);
    assert_same(&snapshot(&f.src), &snapshot(&out), "bsdtar extraction");
}

#[test]
fn xorriso_extracts_identical_tree() {
    let f = fixture();
    let out = f.root.join("xorriso");
    run_ok(
        Command::new(tool("xorriso"))
            .args(["-osirrox", "on", "-indev"])
            .arg(&f.iso)
            .args(["-extract", "/"])
            .arg(&out),
    );
    diff_r(&f.src, &out);
    assert_same(&snapshot(&f.src), &snapshot(&out), "xorriso extraction");
}

/// 7-Zip reads the Joliet tree when there is one: no symlinks, no modes, names cut to 103
/// UTF-16 units. Every regular file must come out with its content under its Joliet name.
#[test]
fn sevenzip_extracts_joliet_tree() {
    let f = fixture();
    let out = f.root.join("7z");
    run_ok(
        Command::new(tool("7z"))
            .arg("x")
            .arg(format!("-o{}", out.display()))
            .arg(&f.iso),
    );
    let expected = snapshot(&f.src);
    let actual = snapshot(&out);
    let mut files = 0;
    for (path, meta) in &expected {
        let joliet: PathBuf = path
            .components()
            .map(|c| {
                let name = c.as_os_str().to_str().unwrap();
                let units = buildchain_iso9660::names::map_joliet_name(name, false, 103);
                String::from_utf16(&units).unwrap()
            })
            .collect();
        match &meta.kind {
            Kind::File(data) => {
                files += 1;
                let got = actual
                    .get(&joliet)
                    .unwrap_or_else(|| panic!("7z lacks {}", joliet.display()));
                assert_eq!(got.kind, Kind::File(data.clone()), "{}", joliet.display());
            }
            Kind::Symlink(_) => assert!(
                !actual.contains_key(&joliet),
                "symlink in Joliet: {}",
                joliet.display()
            ),
            Kind::Dir => {}
        }
    }
    let got_files = actual
        .values()
        .filter(|m| matches!(m.kind, Kind::File(_)))
        .count();
    assert_eq!(got_files, files);
}

#[test]
fn isoinfo_reports_volume_rock_ridge_and_joliet() {
    let f = fixture();
    let out = run_ok(
        Command::new(tool("isoinfo"))
            .arg("-d")
            .arg("-i")
            .arg(&f.iso),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Volume id: METALK8S 2.0.0"), "{text}");
    assert!(
        text.contains("Rock Ridge signatures version 1 found"),
        "{text}"
    );
    assert!(text.contains("Joliet with UCS level 3 found"), "{text}");
    // The path tables and both trees are consistent for isoinfo too.
    let out = run_ok(
        Command::new(tool("isoinfo"))
            .args(["-R", "-f", "-i"])
            .arg(&f.iso),
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    // isoinfo does not follow CL links: it shows the relocated directory where it is stored.
    assert!(
        listing.contains("/rr_moved/level8/level9/level10/level11/level12/deep.txt"),
        "{listing}"
    );
    assert!(
        listing.contains("/level1/level2/level3/level4/level5/level6/level7/level8\n"),
        "{listing}"
    );
    run_ok(
        Command::new(tool("isoinfo"))
            .args(["-J", "-l", "-i"])
            .arg(&f.iso),
    );
}

#[test]
fn checkisomd5_accepts_implant_and_rejects_flipped_byte() {
    let f = fixture();
    run_ok(Command::new(tool("checkisomd5")).arg(&f.iso));
    assert!(matches!(
        isomd5::check(&f.iso).unwrap(),
        CheckOutcome::Pass { .. }
    ));
    let status = isomd5().arg("check").arg(&f.iso).status().unwrap();
    assert_eq!(status.code(), Some(0));
    // Flip one byte inside a file's data.
    let img = IsoImage::open(&f.iso).unwrap();
    let entry = img.entry("sub/inner.bin").unwrap().clone();
    drop(img);
    let mut bytes = std::fs::read(&f.iso).unwrap();
    let needle = std::fs::read(f.src.join("sub/inner.bin")).unwrap();
    let at = bytes.windows(64).position(|w| w == &needle[..64]).unwrap() + 5000;
    assert!(entry.size > 5000);
    bytes[at] ^= 0x40;
    std::fs::write(&f.iso, &bytes).unwrap();
    let out = run(Command::new(tool("checkisomd5")).arg(&f.iso));
    assert!(!out.status.success(), "checkisomd5 passed a modified image");
    assert!(matches!(
        isomd5::check(&f.iso).unwrap(),
        CheckOutcome::Fail { .. }
    ));
    let status = isomd5().arg("check").arg(&f.iso).status().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn our_check_accepts_genisoimage_and_implantisomd5() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tricky_tree(&src);
    let iso = dir.path().join("g.iso");
    run_ok(
        Command::new(tool("genisoimage"))
            .args(METALK8S_FLAGS)
            .args(["-V", "GENISO"])
            .arg("-o")
            .arg(&iso)
            .arg(&src),
    );
    // No checksum yet: exit 2.
    assert_eq!(
        isomd5().arg("check").arg(&iso).status().unwrap().code(),
        Some(2)
    );
    let copy = dir.path().join("ours-implant.iso");
    std::fs::copy(&iso, &copy).unwrap();
    run_ok(Command::new(tool("implantisomd5")).arg(&iso));
    run_ok(isomd5().arg("check").arg(&iso));
    // Our implant over genisoimage output is accepted by checkisomd5 and gives the same bytes.
    run_ok(isomd5().arg("implant").arg(&copy));
    run_ok(Command::new(tool("checkisomd5")).arg(&copy));
    assert_eq!(std::fs::read(&iso).unwrap(), std::fs::read(&copy).unwrap());
    // Refuses a used application area without --force.
    assert_eq!(
        isomd5().arg("implant").arg(&copy).status().unwrap().code(),
        Some(1)
    );
    run_ok(isomd5().args(["implant", "--force"]).arg(&copy));
    // Our reader reads genisoimage's Rock Ridge tree (with its rr_moved) like the source.
    let img = IsoImage::open(&iso).unwrap();
    assert!(img.has_rock_ridge() && img.has_joliet());
    assert_eq!(img.volume_id(), "GENISO");
    assert_eq!(
        img.read_file("sub/inner.bin").unwrap(),
        std::fs::read(src.join("sub/inner.bin")).unwrap()
    );
    assert!(img.entry("level1/level2/level3/level4/level5/level6/level7/level8/level9/level10/level11/level12/deep.txt").is_some());
}

#[test]
fn our_reader_reads_every_tree() {
    let f = fixture();
    let img = IsoImage::open(&f.iso).unwrap();
    assert_eq!(img.tree(), Tree::RockRidge);
    assert_eq!(img.volume_id(), "METALK8S 2.0.0");
    assert!(img.has_rock_ridge() && img.has_joliet());
    assert!(img
        .entries()
        .iter()
        .all(|e| !e.path.starts_with("rr_moved")));
    match &img.entry("sub/rel-link").unwrap().kind {
        EntryKind::Symlink { target } => assert_eq!(target, "../file1.txt"),
        other => panic!("{other:?}"),
    }
    let out = f.root.join("ours");
    img.extract(&out).unwrap();
    diff_r(&f.src, &out);
    assert_same(&snapshot(&f.src), &snapshot(&out), "our extraction");
    let joliet = IsoImage::open_with(&f.iso, Some(Tree::Joliet)).unwrap();
    assert_eq!(joliet.read_file("file1.txt").unwrap(), b"hello world\n");
    let plain = IsoImage::open_with(&f.iso, Some(Tree::Plain)).unwrap();
    assert_eq!(plain.read_file("FILE1.TXT").unwrap(), b"hello world\n");
    assert_eq!(
        plain
            .entries()
            .iter()
            .filter(|e| e.path.starts_with("COLLIDE/"))
            .count(),
        4
    );
}

#[test]
fn source_date_epoch_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tricky_tree(&src);
    let a = dir.path().join("a.iso");
    let b = dir.path().join("b.iso");
    build(&src, &a, &["--implantisomd5"], Some("1700000000"));
    // A copy of the tree (other inodes, other atimes/ctimes) gives the same bytes.
    let copy = dir.path().join("copy");
    run_ok(Command::new(tool("cp")).arg("-a").arg(&src).arg(&copy));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build(&copy, &b, &["--implantisomd5"], Some("1700000000"));
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "images differ"
    );
    let img = IsoImage::open(&a).unwrap();
    assert_eq!(img.volume().creation, Some(1_700_000_000));
    assert!(img.entries().iter().all(|e| e.mtime <= 1_700_000_000));
}

/// Our MD5 (the isomd5sum hash) against coreutils' md5sum, on every length around the block
/// and padding boundaries and on a few MiB fed in uneven pieces.
#[test]
fn md5_agrees_with_md5sum() {
    use buildchain_iso9660::md5::Md5;
    let md5sum = tool("md5sum");
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let lengths: Vec<usize> = (0..=130).chain([1000, 4096, 65_537, 3 << 20]).collect();
    for (i, len) in lengths.into_iter().enumerate() {
        let data = bytes(len);
        let file = dir.path().join(format!("f{i}"));
        std::fs::write(&file, &data).unwrap();
        let out = run_ok(Command::new(&md5sum).arg(&file));
        let want = String::from_utf8_lossy(&out.stdout)[..32].to_string();
        let mut h = Md5::new();
        for piece in data.chunks(1 + len % 997) {
            h.update(piece);
        }
        assert_eq!(
            h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            want,
            "length {len}"
        );
    }
}
