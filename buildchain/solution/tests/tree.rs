//! Unpacked Solution trees: a valid corpus, one broken variant per rule, hostile input.

mod common;

use common::*;
use solution_archive::{validate_path, Report, Severity};
use std::fs;
use std::path::Path;

fn validate(root: &Path) -> Report {
    validate_path(root).unwrap()
}

fn assert_rule(report: &Report, rule: &str) {
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule.id() == rule && f.severity == Severity::Error),
        "expected an error of rule {rule}, got:\n{}",
        report.to_text()
    );
    assert!(!report.valid);
}

#[test]
fn valid_tree_passes_with_no_finding() {
    let (_dir, root) = solution();
    let report = validate(&root);
    assert!(report.valid, "{}", report.to_text());
    assert!(report.findings.is_empty(), "{}", report.to_text());
    assert_eq!(report.stats.images, 3);
    assert_eq!(report.stats.blobs, 6);
    let out = run(&["validate", root.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": valid"));
}

#[test]
fn defaults_apply_without_spec_images_and_operator() {
    let (_dir, root) = solution();
    fs::write(
        root.join("manifest.yaml"),
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: example\nspec:\n  version: 1.0.0\n",
    )
    .unwrap();
    let report = validate(&root);
    assert!(report.valid, "{}", report.to_text());
}

type Mutation = fn(&Path);

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

fn variants() -> Vec<(&'static str, Mutation)> {
    vec![
        ("manifest.present", |r| {
            fs::remove_file(r.join("manifest.yaml")).unwrap()
        }),
        ("manifest.yaml", |r| {
            fs::write(r.join("manifest.yaml"), "{{{ not: yaml").unwrap()
        }),
        ("manifest.yaml", |r| {
            fs::write(r.join("manifest.yaml"), vec![b'a'; 2 << 20]).unwrap()
        }),
        ("manifest.api-version", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "scality.com/v1alpha1",
                "scality.com/v2",
            )
        }),
        ("manifest.kind", |r| {
            replace_in(&r.join("manifest.yaml"), "kind: Solution", "kind: Pod")
        }),
        ("manifest.name", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "name: example\n",
                "name: -Example\n",
            )
        }),
        ("manifest.version", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "  version: 1.0.0",
                "  revision: 1.0.0",
            )
        }),
        ("manifest.version", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "  version: 1.0.0",
                "  version: 1.0",
            )
        }),
        ("manifest.operator", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "name: example-operator",
                "name: Example Operator",
            )
        }),
        ("manifest.images", |r| {
            replace_in(&r.join("manifest.yaml"), "- base:latest", "- base")
        }),
        ("manifest.schema", |r| {
            replace_in(&r.join("manifest.yaml"), "labels: {}", "labels: [1]")
        }),
        ("images.dir", |r| {
            fs::remove_dir_all(r.join("images")).unwrap()
        }),
        ("images.name", |r| {
            make_image(r, "Upper", "1.0", b"x");
        }),
        ("images.name", |r| {
            make_image(r, "ok", "-bad-tag", b"x");
        }),
        ("images.listed", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "- base:latest",
                "- base:latest\n    - ghost:1.0",
            )
        }),
        ("images.operator", |r| {
            replace_in(
                &r.join("manifest.yaml"),
                "      tag: 1.0.0",
                "      tag: 9.9.9",
            )
        }),
        ("image.manifest", |r| {
            fs::write(r.join("images/base/2.0.0/manifest.json"), "not json").unwrap()
        }),
        ("image.manifest", |r| {
            let path = r.join("images/base/2.0.0/manifest.json");
            let text = fs::read_to_string(&path).unwrap();
            let digest = text.split("\"digest\": \"").nth(2).unwrap()[..71].to_string();
            fs::write(path, text.replace(&digest, "sha256:../../../../etc/passwd")).unwrap();
        }),
        ("image.manifest", |r| {
            replace_in(
                &r.join("images/base/2.0.0/manifest.json"),
                "\"schemaVersion\": 2",
                "\"schemaVersion\": 1",
            )
        }),
        ("blob.missing", |r| {
            fs::remove_file(layer_path(r, "base/2.0.0")).unwrap()
        }),
        ("blob.size", |r| {
            let path = layer_path(r, "base/2.0.0");
            let mut data = fs::read(&path).unwrap();
            data.push(0);
            fs::write(path, data).unwrap();
        }),
        ("blob.size", |r| {
            let path = r.join("images/base/2.0.0/manifest.json");
            let text = fs::read_to_string(&path).unwrap();
            let size: String = text
                .split("\"size\": ")
                .nth(2)
                .unwrap()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            fs::write(
                path,
                text.replace(&format!("\"size\": {size}"), "\"size\": 9007199254740991"),
            )
            .unwrap();
        }),
        ("blob.digest", |r| {
            let path = layer_path(r, "base/2.0.0");
            let mut data = fs::read(&path).unwrap();
            let middle = data.len() / 2;
            data[middle] ^= 0xff;
            fs::write(path, data).unwrap();
        }),
        ("registry-config.present", |r| {
            fs::remove_file(r.join("registry-config.inc.j2")).unwrap()
        }),
        ("registry-config.syntax", |r| {
            fs::write(r.join("registry-config.inc.j2"), "location = \"/v2/x\" {\n").unwrap()
        }),
        ("registry-config.template", |r| {
            let path = r.join("registry-config.inc.j2");
            let text = fs::read_to_string(&path).unwrap();
            fs::write(
                path,
                format!("location = /v2/ {{\n    return 200 'ok';\n}}\n{text}"),
            )
            .unwrap();
        }),
        ("registry-config.template", |r| {
            replace_in(
                &r.join("registry-config.inc.j2"),
                "{{ registry_root }}",
                "/srv/scality/example-1.0.0/images",
            )
        }),
        ("registry-config.template", |r| {
            replace_in(
                &r.join("registry-config.inc.j2"),
                "{{ repository }}",
                "example-1.0.0",
            )
        }),
        ("registry-config.images", |r| {
            make_image(r, "extra", "1.0", b"not served");
        }),
        ("registry-config.images", |r| {
            fs::remove_dir_all(r.join("images/base/latest")).unwrap();
            replace_in(&r.join("manifest.yaml"), "    - base:latest\n", "");
        }),
        ("registry-config.digest", |r| {
            let path = r.join("images/base/2.0.0/manifest.json");
            let text = fs::read_to_string(&path).unwrap();
            fs::write(path, format!("{text}\n")).unwrap();
        }),
        ("operator.crd", |r| {
            fs::write(
                r.join("operator/deploy/crds/deployment.yaml"),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n",
            )
            .unwrap()
        }),
        ("operator.crd", |r| {
            replace_in(
                &r.join("operator/deploy/crds/example_crd.yaml"),
                "apiextensions.k8s.io/v1",
                "apiextensions.k8s.io/v2",
            )
        }),
        ("operator.crd", |r| {
            fs::write(r.join("operator/deploy/crds/bad.yaml"), "key: [unclosed\n").unwrap()
        }),
        ("operator.role", |r| {
            let path = r.join("operator/deploy/role.yaml");
            let text = fs::read_to_string(&path).unwrap();
            fs::write(path, format!("{text}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: x\n")).unwrap();
        }),
        ("archive.path", |r| {
            let path = layer_path(r, "base/2.0.0");
            fs::remove_file(&path).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", path).unwrap();
        }),
        ("archive.read", |r| {
            std::os::unix::fs::symlink("loop", r.join("images/loop")).unwrap();
        }),
    ]
}

#[test]
fn each_rule_has_a_failing_variant() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    make_solution(&pristine);
    for (i, (rule, mutate)) in variants().into_iter().enumerate() {
        let root = dir.path().join(format!("variant-{i}"));
        copy_tree(&pristine, &root);
        mutate(&root);
        let report = validate(&root);
        assert_rule(&report, rule);
        fs::remove_dir_all(&root).unwrap();
    }
}

#[test]
fn cli_exit_1_lists_every_problem_as_json() {
    let (_dir, root) = solution();
    fs::remove_file(layer_path(&root, "base/2.0.0")).unwrap();
    replace_in(&root.join("manifest.yaml"), "kind: Solution", "kind: Pod");
    let out = run(&["validate", "--format", "json", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let rules: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"manifest.kind"), "{rules:?}");
    assert!(rules.contains(&"blob.missing"), "{rules:?}");
    for finding in json["findings"].as_array().unwrap() {
        for key in ["severity", "rule", "path", "found", "expected"] {
            assert!(finding.get(key).is_some(), "{key} missing in {finding}");
        }
    }
    let text = run(&["validate", root.to_str().unwrap()]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("error[blob.missing] images/base/2.0.0/"),
        "{stdout}"
    );
}

#[test]
fn warnings_do_not_invalidate() {
    let (_dir, root) = solution();
    fs::remove_file(root.join("images/base/2.0.0/version")).unwrap();
    fs::write(root.join("images/base/2.0.0/notes.txt"), "hello").unwrap();
    replace_in(&root.join("manifest.yaml"), "    - base:latest\n", "");
    let report = validate(&root);
    assert!(report.valid, "{}", report.to_text());
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.id()).collect();
    for rule in ["image.version-file", "image.extra-file", "images.unlisted"] {
        assert!(rules.contains(&rule), "{rules:?}");
    }
    let out = run(&["validate", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn unreadable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.iso");
    fs::write(
        &garbage,
        (0..200_000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let empty = dir.path().join("empty.iso");
    fs::write(&empty, b"").unwrap();
    let fake = dir.path().join("fake.iso");
    let mut bytes = vec![0u8; 64 * 1024];
    bytes[16 * 2048..16 * 2048 + 6].copy_from_slice(b"\x01CD001");
    fs::write(&fake, bytes).unwrap();
    let missing = dir.path().join("missing");
    for path in [&garbage, &empty, &fake, &missing] {
        for format in ["text", "json"] {
            let out = run(&["validate", "--format", format, path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.stderr.is_empty());
            if format == "json" {
                let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(json["valid"], false);
                assert!(json["error"].is_string());
            }
        }
    }
    let out = run(&["validate", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn hostile_trees_never_hang() {
    let (_dir, root) = solution();
    // Directory loops through links, a dangling link, a link to the parent.
    std::os::unix::fs::symlink(".", root.join("images/self")).unwrap();
    std::os::unix::fs::symlink("..", root.join("images/base/2.0.0/up")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("images/base/dangling")).unwrap();
    std::os::unix::fs::symlink("/", root.join("operator/deploy/crds/root.yaml")).unwrap();
    // FIFOs where files are expected: never opened (opening one would block).
    let layer = layer_path(&root, "base/2.0.0");
    fs::remove_file(&layer).unwrap();
    for fifo in [
        layer,
        root.join("images/base/latest/version"),
        root.join("operator/deploy/role.yaml"),
    ] {
        let _ = fs::remove_file(&fifo);
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let report = validate(&root);
    assert!(!report.valid);
    assert!(
        report.has_error(solution_archive::Rule::BlobMissing),
        "{}",
        report.to_text()
    );
    let out = run(&["validate", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn empty_directory_is_invalid_not_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for rule in ["manifest.present", "images.dir", "registry-config.present"] {
        assert!(stdout.contains(rule), "{stdout}");
    }
}

#[test]
fn rules_are_listed() {
    let out = run(&["rules"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for rule in solution_archive::Rule::ALL {
        assert!(stdout.contains(rule.id()));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn rules_are_documented() {
    let docs = include_str!("../../../docs/solution-archive.md");
    for rule in solution_archive::Rule::ALL {
        assert!(
            docs.contains(&format!("| `{}` |", rule.id())),
            "{} missing from docs/solution-archive.md",
            rule.id()
        );
    }
}

/// `skopeo copy --format oci` of a corpus image, and an OCI index over it (skopeo `--all`
/// layout: `<hex>.manifest.json` children).
fn add_oci_and_index(root: &Path) -> String {
    require_tool("skopeo");
    let src = root.join("images/base/2.0.0");
    let dst = root.join("images/base-oci/1.0");
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    let out = std::process::Command::new("skopeo")
        .args(["--insecure-policy", "copy", "-q", "--format", "oci"])
        .arg(format!("dir:{}", src.display()))
        .arg(format!("dir:{}", dst.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child = fs::read(dst.join("manifest.json")).unwrap();
    let child_json: serde_json::Value = serde_json::from_slice(&child).unwrap();
    assert_eq!(
        child_json["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let child_hex = sha256_hex(&child);
    let multi = root.join("images/multi/1.0");
    fs::create_dir_all(&multi).unwrap();
    for entry in fs::read_dir(&dst).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "manifest.json" {
            fs::copy(entry.path(), multi.join(entry.file_name())).unwrap();
        }
    }
    fs::write(multi.join(format!("{child_hex}.manifest.json")), &child).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{child_hex}"),
            "size": child.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    });
    fs::write(
        multi.join("manifest.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    replace_in(
        &root.join("manifest.yaml"),
        "    - base:latest\n",
        "    - base:latest\n    - base-oci:1.0\n    - multi:1.0\n",
    );
    write_registry_config(root);
    child_hex
}

#[test]
fn oci_images_and_indexes_are_valid() {
    let (_dir, root) = solution();
    let child_hex = add_oci_and_index(&root);
    let report = validate(&root);
    assert!(report.findings.is_empty(), "{}", report.to_text());
    assert_eq!(report.stats.images, 5);
    // A damaged child manifest is a bad blob of the index.
    let child = root.join(format!("images/multi/1.0/{child_hex}.manifest.json"));
    let text = fs::read_to_string(&child).unwrap();
    fs::write(
        &child,
        text.replace("schemaVersion\":2", "schemaVersion\": 2"),
    )
    .unwrap();
    let report = validate(&root);
    assert_rule(&report, "blob.size");
}

#[test]
fn mutated_text_files_never_panic() {
    let (_dir, root) = solution();
    let files = [
        "manifest.yaml",
        "registry-config.inc.j2",
        "images/base/2.0.0/manifest.json",
        "operator/deploy/crds/example_crd.yaml",
        "operator/deploy/role.yaml",
    ];
    let mut state: u64 = 7;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    for file in files {
        let path = root.join(file);
        let pristine = fs::read(&path).unwrap();
        for _ in 0..60 {
            let mut bytes = pristine.clone();
            for _ in 0..3 {
                let at = next() as usize % bytes.len();
                let pick = b"{}[]:;'\"\\#&*!|>-\n \t\x00\xff";
                bytes[at] = pick[next() as usize % pick.len()];
            }
            if next() % 4 == 0 {
                let cut = next() as usize % bytes.len();
                bytes.truncate(cut);
            }
            fs::write(&path, &bytes).unwrap();
            let _ = validate(&root);
        }
        fs::write(&path, &pristine).unwrap();
    }
    assert!(validate(&root).valid);
}
