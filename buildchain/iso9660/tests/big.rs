//! A sparse file over 4 GiB becomes a multi-extent file (level 3) that bsdtar reads back
//! with the right size and bytes. Writes a ~4 GiB image; removed at the end.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

use buildchain_iso9660::{write_image, IsoImage, IsoOptions};
use common::*;

const SIZE: u64 = (4 << 30) + 5000;
const MARKS: &[(u64, &[u8])] = &[
    (0, b"first bytes"),
    (0xFFFF_F800 - 6, b"across-section"),
    (SIZE - 9, b"last byte"),
];

#[test]
fn sparse_file_over_4gib_is_multi_extent() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big = src.join("big.bin");
    let mut f = std::fs::File::create(&big).unwrap();
    f.set_len(SIZE).unwrap();
    for (at, mark) in MARKS {
        f.seek(SeekFrom::Start(*at)).unwrap();
        f.write_all(mark).unwrap();
    }
    drop(f);
    std::fs::write(src.join("small.txt"), b"small\n").unwrap();
    let iso = dir.path().join("big.iso");
    let mut opts = IsoOptions::metalk8s("BIG", Some(1_700_000_000));
    opts.implant_md5 = false;
    opts.padding_sectors = 0;
    write_image(&src, &iso, &opts).unwrap();

    // Level 2 cannot hold it.
    opts.iso_level = 2;
    assert!(write_image(&src, &dir.path().join("l2.iso"), &opts).is_err());
    assert!(!dir.path().join("l2.iso").exists());

    let list = run_ok(Command::new(tool("bsdtar")).arg("tvf").arg(&iso));
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(listing.contains(&format!(" {SIZE} ")), "{listing}");

    // bsdtar streams the file: check its length and the marked bytes.
    let mut child = Command::new(tool("bsdtar"))
        .arg("-xOf")
        .arg(&iso)
        .arg("big.bin")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut pos: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    let mut found = vec![Vec::new(); MARKS.len()];
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (i, (at, mark)) in MARKS.iter().enumerate() {
            let end = at + mark.len() as u64;
            let (s, e) = ((*at).max(pos), end.min(pos + n as u64));
            if s < e {
                found[i].extend_from_slice(&buf[(s - pos) as usize..(e - pos) as usize]);
            }
        }
        pos += n as u64;
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(pos, SIZE);
    for (i, (_, mark)) in MARKS.iter().enumerate() {
        assert_eq!(&found[i], mark);
    }

    // Our reader: two sections, same bytes at the section boundary.
    let img = IsoImage::open(&iso).unwrap();
    let e = img.entry("big.bin").unwrap();
    assert_eq!(e.size, SIZE);
    let mut r = img.open_file("big.bin").unwrap();
    let mut head = [0u8; 11];
    r.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"first bytes");
    assert_eq!(img.read_file("small.txt").unwrap(), b"small\n");
    drop(img);
    std::fs::remove_file(&iso).unwrap();
}
