//! Diff and delta on small unpacked trees, and the input they refuse.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use buildchain_release::delta::{self, link_problem, manifest_path_problem, Identity};
use buildchain_release::{Archive, Diff, Inventory};

fn tree(dir: &Path, version: &str, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("product.txt"),
        format!("NAME=MetalK8s\nVERSION={version}\n"),
    )
    .unwrap();
    for script in delta::SCRIPTS {
        fs::write(dir.join(script), format!("# {script} {version}\n")).unwrap();
    }
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

fn read(dir: &Path) -> (Archive, Inventory) {
    let archive = Archive::open(dir).unwrap();
    let inventory = Inventory::read(&archive).unwrap();
    (archive, inventory)
}

fn identity(version: &str) -> Identity {
    Identity {
        version: version.into(),
        volume_id: None,
        sha256: None,
    }
}

#[test]
fn a_changed_file_and_a_moved_one_diff_and_delta_by_content() {
    let w = tempfile::tempdir().unwrap();
    let (old, new) = (w.path().join("old"), w.path().join("new"));
    tree(
        &old,
        "1.0.0",
        &[("salt/a.sls", "a: 1\n"), ("docs/big", "shared content\n")],
    );
    tree(
        &new,
        "1.0.1",
        &[
            ("salt/a.sls", "a: 2\n"),
            ("documentation/big", "shared content\n"),
        ],
    );
    fs::hard_link(new.join("salt/a.sls"), new.join("salt/same.sls")).unwrap();
    let ((oa, oi), (na, ni)) = (read(&old), read(&new));
    let diff = Diff::between(&oa, &oi, &na, &ni).unwrap();
    let changed: Vec<(&str, String)> = diff
        .files
        .iter()
        .map(|f| (f.path.as_str(), serde_json::to_string(&f.change).unwrap()))
        .collect();
    assert!(
        changed.contains(&("salt/a.sls", "\"changed\"".into())),
        "{changed:?}"
    );
    assert!(
        changed.contains(&("docs/big", "\"removed\"".into())),
        "{changed:?}"
    );
    assert!(
        changed.contains(&("documentation/big", "\"added\"".into())),
        "{changed:?}"
    );
    assert!(diff.to_text().contains("1.0.0 -> 1.0.1"));

    let out = w.path().join("delta");
    fs::create_dir(&out).unwrap();
    let summary = delta::write_tree(
        &oi,
        &identity("1.0.0"),
        &na,
        &ni,
        &identity("1.0.1"),
        "MetalK8s",
        &out,
    )
    .unwrap();
    // The moved file comes from OLD; the changed one (twice, hardlinked) is stored once.
    let manifest = fs::read_to_string(out.join(delta::MANIFEST)).unwrap();
    assert!(
        manifest
            .lines()
            .any(|l| l.ends_with("\told:docs/big\tdocumentation/big")),
        "{manifest}"
    );
    let a = manifest
        .lines()
        .position(|l| l.ends_with("\tsalt/a.sls"))
        .unwrap()
        + 1;
    let same = manifest
        .lines()
        .find(|l| l.ends_with("\tsalt/same.sls"))
        .unwrap();
    assert_eq!(
        same.split('\t').nth(4).unwrap(),
        a.to_string(),
        "{manifest}"
    );
    assert_eq!(
        summary.objects,
        fs::read_dir(out.join(delta::OBJECTS)).unwrap().count()
    );
    let description = fs::read_to_string(out.join(delta::DESCRIPTION)).unwrap();
    assert!(
        description.contains("FROM_VERSION=1.0.0\n") && description.contains("TO_VERSION=1.0.1\n")
    );
}

#[test]
fn trees_a_node_could_not_rebuild_are_refused_naming_the_entry() {
    let w = tempfile::tempdir().unwrap();
    let old = w.path().join("old");
    tree(&old, "1.0.0", &[]);
    let (_, oi) = read(&old);
    for (name, make, message) in [
        (
            "tab",
            Box::new(|d: &Path| fs::write(d.join("a\tb"), "x").unwrap()) as Box<dyn Fn(&Path)>,
            "control character",
        ),
        (
            "absolute link",
            Box::new(|d: &Path| std::os::unix::fs::symlink("/etc/passwd", d.join("l")).unwrap()),
            "is absolute",
        ),
        (
            "escaping link",
            Box::new(|d: &Path| std::os::unix::fs::symlink("../../x", d.join("l")).unwrap()),
            "leaves the archive",
        ),
        (
            "link through a link",
            Box::new(|d: &Path| {
                fs::create_dir_all(d.join("s/m")).unwrap();
                std::os::unix::fs::symlink("../..", d.join("s/m/d")).unwrap();
                std::os::unix::fs::symlink("d/..", d.join("s/m/e")).unwrap();
            }),
            "goes through another link",
        ),
        (
            "setuid",
            Box::new(|d: &Path| {
                fs::write(d.join("s"), "x").unwrap();
                fs::set_permissions(d.join("s"), fs::Permissions::from_mode(0o4755)).unwrap();
            }),
            "set-id",
        ),
    ] {
        let new = w.path().join(name.replace(' ', "-"));
        tree(&new, "1.0.1", &[]);
        make(&new);
        let (na, ni) = read(&new);
        let out = w.path().join(format!("out-{}", name.replace(' ', "-")));
        fs::create_dir(&out).unwrap();
        let err = delta::write_tree(
            &oi,
            &identity("1.0.0"),
            &na,
            &ni,
            &identity("1.0.1"),
            "MetalK8s",
            &out,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(message) && err.contains(&new.display().to_string()),
            "{name}: {err}"
        );
    }
    let links = ["a/l", "d"].into_iter().collect();
    assert!(link_problem("a/b", "../c", &links).is_none());
    assert!(link_problem("a/b", "../../c", &links).is_some());
    assert!(
        link_problem("a/b", "l", &links).is_none(),
        "a link to a link"
    );
    assert!(
        link_problem("a/b", "l/..", &links).is_some(),
        "through a link"
    );
    assert!(link_problem("e", "d/x", &links).is_some());
    assert!(manifest_path_problem("a/../b").is_some());
    assert!(manifest_path_problem("a b/c").is_none());
}

#[test]
fn what_is_not_an_archive_is_named() {
    let w = tempfile::tempdir().unwrap();
    let missing = w.path().join("missing.iso");
    let err = Archive::open(&missing).err().unwrap().to_string();
    assert!(err.contains("missing.iso"), "{err}");
    let junk = w.path().join("junk.iso");
    fs::write(&junk, vec![0u8; 100_000]).unwrap();
    let err = Archive::open(&junk).err().unwrap().to_string();
    assert!(err.contains("junk.iso"), "{err}");
    let fifo = w.path().join("tree");
    tree(&fifo, "1.0.0", &[]);
    let status = std::process::Command::new("mkfifo")
        .arg(fifo.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let err = Archive::open(&fifo)
        .unwrap()
        .entries()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("pipe") && err.contains("FIFO"), "{err}");
}
