//! Property-style tests of the reader: random and mutated images never panic or hang; every
//! outcome is either a readable image or a typed error. Seeded, so failures reproduce.

mod common;

use std::io::Read;
use std::path::Path;

use buildchain_iso9660::{isomd5, write_image, IsoImage, IsoOptions, Tree};

/// xorshift64*: small, seeded, good enough to pick bytes to break.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(path: &Path) {
    for tree in [
        None,
        Some(Tree::RockRidge),
        Some(Tree::Joliet),
        Some(Tree::Plain),
    ] {
        let Ok(img) = IsoImage::open_with(path, tree) else {
            continue;
        };
        let _ = (
            img.volume_id(),
            img.has_rock_ridge(),
            img.has_joliet(),
            img.volume(),
        );
        let files: Vec<String> = img
            .entries()
            .iter()
            .filter(|e| e.kind == buildchain_iso9660::EntryKind::File)
            .map(|e| e.path.clone())
            .collect();
        for f in files.iter().take(50) {
            if let Ok(mut r) = img.open_file(f) {
                let mut sink = Vec::new();
                let _ = r.by_ref().take(1 << 20).read_to_end(&mut sink);
            }
        }
    }
    let _ = isomd5::check(path);
}

fn seed_image(dir: &Path) -> Vec<u8> {
    let src = dir.join("src");
    common::tricky_tree(&src);
    let iso = dir.join("seed.iso");
    let mut opts = IsoOptions::metalk8s("FUZZ", Some(1_600_000_000));
    opts.padding_sectors = 0;
    write_image(&src, &iso, &opts).unwrap();
    std::fs::read(&iso).unwrap()
}

#[test]
fn mutated_images_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_image(dir.path());
    // Metadata lives before the first file extent: mutate there most of the time.
    let metadata_end = {
        let img = IsoImage::open(&dir.path().join("seed.iso")).unwrap();
        assert!(img.entries().len() > 100);
        seed.len().min(200 * 2048)
    };
    let path = dir.path().join("m.iso");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..400 {
        let mut img = seed.clone();
        let flips = 1 + rng.below(16);
        for _ in 0..flips {
            let at = 16 * 2048 + rng.below(metadata_end - 16 * 2048);
            img[at] = match rng.below(4) {
                0 => 0,
                1 => 0xFF,
                2 => img[at] ^ (1 << rng.below(8)),
                _ => rng.next() as u8,
            };
        }
        if round % 10 == 0 {
            let len = rng.below(img.len());
            img.truncate(len);
        }
        std::fs::write(&path, &img).unwrap();
        exercise(&path);
    }
}

#[test]
fn random_images_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.iso");
    let mut rng = Rng(42);
    for _ in 0..200 {
        let sectors = 20 + rng.below(40);
        let mut img: Vec<u8> = (0..sectors * 2048).map(|_| rng.next() as u8).collect();
        // A plausible PVD so the parser goes deeper than the magic check.
        let pvd = 16 * 2048;
        img[pvd] = 1;
        img[pvd + 1..pvd + 6].copy_from_slice(b"CD001");
        img[pvd + 128..pvd + 130].copy_from_slice(&2048u16.to_le_bytes());
        let n = sectors as u32;
        img[pvd + 80..pvd + 84].copy_from_slice(&n.to_le_bytes());
        img[pvd + 84..pvd + 88].copy_from_slice(&n.to_be_bytes());
        img[pvd + 156] = 34;
        img[pvd + 156 + 25] = 2;
        img[pvd + 156 + 32] = 1;
        let root = 18 + rng.below(sectors - 18) as u32;
        img[pvd + 158..pvd + 162].copy_from_slice(&root.to_le_bytes());
        img[pvd + 166..pvd + 170].copy_from_slice(&2048u32.to_le_bytes());
        std::fs::write(&path, &img).unwrap();
        exercise(&path);
    }
}
