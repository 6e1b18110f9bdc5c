//! A Solution never makes a file from outside the archive look valid: links leading out
//! of it are errors wherever they are, and under `images/` no link is allowed at all. The
//! same for an unpacked tree and for an ISO (Rock Ridge symlinks, written by genisoimage).

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Output;

fn findings(out: &Output) -> Vec<(String, String)> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn plant_links(root: &Path) {
    let symlink =
        |target: &str, at: &str| std::os::unix::fs::symlink(target, root.join(at)).unwrap();
    symlink("/etc/passwd", "escape");
    symlink("../../../../etc", "operator/up");
    // A blob replaced by a link leading out, and one by a link staying inside (still a
    // link under images/).
    let layer = layer_path(root, "base/2.0.0");
    fs::remove_file(&layer).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &layer).unwrap();
    let other = layer_path(root, "base/latest");
    fs::remove_file(&other).unwrap();
    std::os::unix::fs::symlink("../../../manifest.yaml", &other).unwrap();
    // An inside link elsewhere is fine.
    symlink("manifest.yaml", "manifest-link.yaml");
}

fn assert_refused(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let found = findings(out);
    let has = |path: &str| {
        found
            .iter()
            .any(|(rule, p)| rule == "archive.path" && p.as_str() == path)
    };
    for path in ["escape", "operator/up"] {
        assert!(has(path), "{what}: {path} not refused: {found:?}");
    }
    let blob_links: Vec<_> = found
        .iter()
        .filter(|(rule, p)| rule == "archive.path" && p.starts_with("images/base/"))
        .collect();
    assert_eq!(blob_links.len(), 2, "{what}: {found:?}");
    assert!(
        !found.iter().any(|(_, p)| p == "manifest-link.yaml"),
        "{what}: an inside link is fine: {found:?}"
    );
}

#[test]
fn links_leaving_the_tree_or_under_images_are_errors() {
    let (_dir, root) = solution();
    let clean = run(&["validate", "--format", "json", root.to_str().unwrap()]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    plant_links(&root);
    let out = run(&["validate", "--format", "json", root.to_str().unwrap()]);
    assert_refused(&out, "directory");
}

#[test]
fn links_leaving_the_iso_or_under_images_are_errors() {
    let (dir, root) = solution();
    plant_links(&root);
    let iso = dir.path().join("solution.iso");
    genisoimage(&root, &iso, VOLUME_ID, &["-R", "-J", "-joliet-long"], true);
    let out = run(&["validate", "--format", "json", iso.to_str().unwrap()]);
    assert_refused(&out, "iso");
}
