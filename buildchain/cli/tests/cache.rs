//! The shared build cache on a real registry (Debian's docker-registry on 127.0.0.1): a
//! clone builds and keeps its outputs; another clone, at another path with an empty build
//! root, restores every cacheable task, runs none of them, and writes the same ISO bytes;
//! skopeo reads an entry; a blob replaced on the registry's disk is caught (that task runs
//! here); the registry stopped mid-build does not fail the build.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use buildchain_testkit::run_ok as tool;
use common::images::*;
use common::*;

fn is_cacheable(task: &str) -> bool {
    task.starts_with("_image_build:")
        || task.starts_with("_image_pull:")
        || task.starts_with("_package_build:")
        || task == "_salt_tree:salt"
        || task == "_iso_build"
        || task == "_iso_sbom"
}

/// (task, event) of every task event of a `--reporter json` run.
fn events(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["task"].as_str()?.to_string(),
                v["event"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn with(events: &[(String, String)], event: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|(t, e)| e == event && is_cacheable(t))
        .map(|(t, _)| t.clone())
        .collect()
}

/// `buildchain --reporter json --cache URL --cache-mode read iso` in `repo`.
fn read_only(repo: &Repo, url: &str) -> std::process::Output {
    repo.run(
        &[
            "--reporter",
            "json",
            "--cache",
            url,
            "--cache-mode",
            "read",
            "iso",
        ],
        &[],
    )
}

fn clone_with(versions: &str, lock: &Path) -> Repo {
    let repo = Repo::copy();
    fs::write(repo.path().join("versions.toml"), versions).unwrap();
    fs::copy(lock, repo.path().join("versions.lock")).unwrap();
    repo
}

#[test]
fn another_clone_restores_every_cacheable_task_and_writes_the_same_iso() {
    need("skopeo");
    let source = Registry::start();
    let mut cache_registry = Some(buildchain_testkit::Registry::start());
    let cache_host = cache_registry.as_ref().unwrap().host();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    // The 40-image distribution: the repository's, plus 40 pulled images.
    let images = forty_images(&source, w);
    let a = Repo::copy();
    let original = fs::read_to_string(a.path().join("versions.toml")).unwrap();
    let versions = format!(
        "{original}{images}\n[[registries]]\nhost = \"{}\"\ninsecure = true\n\n[[registries]]\nhost = \"{cache_host}\"\ninsecure = true\n",
        source.host()
    );
    fs::write(a.path().join("versions.toml"), &versions).unwrap();
    ok(&a.run(&["lock"], &[]));
    let lock = w.join("versions.lock");
    fs::copy(a.path().join("versions.lock"), &lock).unwrap();
    let url = format!("oci://{cache_host}/buildchain/cache");

    // A builds and keeps.
    let started = Instant::now();
    let out = a.run(&["--reporter", "json", "--cache", &url, "iso"], &[]);
    let time_a = started.elapsed();
    let ran_a = with(&events(&ok(&out)), "success");
    assert!(ran_a.len() > 40, "{ran_a:?}");
    assert!(stderr(&out).contains("kept"), "{}", stderr(&out));

    // B, another path, an empty build root, read only: everything restored, nothing run.
    let b = clone_with(&versions, &lock);
    let started = Instant::now();
    let out = read_only(&b, &url);
    let time_b = started.elapsed();
    let seen = events(&ok(&out));
    assert_eq!(
        with(&seen, "restored"),
        ran_a,
        "every cacheable task restored"
    );
    assert!(
        with(&seen, "success").is_empty(),
        "none ran: {:?}",
        with(&seen, "success")
    );
    let iso_a = fs::read(a.build_root().join("metalk8s.iso")).unwrap();
    assert!(
        fs::read(b.build_root().join("metalk8s.iso")).unwrap() == iso_a,
        "B's ISO differs from A's"
    );
    eprintln!(
        "40-image distribution: A (builds, keeps {} task outputs) {:.1}s, B (restores them) {:.1}s",
        ran_a.len(),
        time_a.as_secs_f64(),
        time_b.as_secs_f64()
    );

    // skopeo reads an entry: an OCI artifact of ours.
    let tags = tool(
        Command::new("skopeo")
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{cache_host}/buildchain/cache")),
    );
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    let tags: Vec<String> = tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags.len(), ran_a.len());
    let manifests: Vec<serde_json::Value> = tags
        .iter()
        .map(|tag| {
            let raw = tool(
                Command::new("skopeo")
                    .args(["inspect", "--raw", "--tls-verify=false"])
                    .arg(format!("docker://{cache_host}/buildchain/cache:{tag}")),
            );
            serde_json::from_str(&raw).unwrap()
        })
        .collect();
    assert!(manifests
        .iter()
        .all(|m| m["artifactType"] == buildchain_cache_artifact_type()));

    // A blob replaced on the registry's disk: the SBOM's entry is refused and the task
    // runs here; the rest is restored; the ISO is the same.
    let sbom = manifests
        .iter()
        .find(|m| m["annotations"]["dev.buildchain.task"] == "_iso_sbom")
        .unwrap();
    let blob = sbom["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let data = cache_registry.as_ref().unwrap().blob_data(&blob);
    let mut bytes = fs::read(&data).unwrap();
    bytes[10] ^= 0x20;
    fs::write(&data, bytes).unwrap();
    let c = clone_with(&versions, &lock);
    let out = read_only(&c, &url);
    let seen = events(&ok(&out));
    assert_eq!(
        with(&seen, "success"),
        BTreeSet::from(["_iso_sbom".to_string()]),
        "{}",
        stderr(&out)
    );
    let warned = stderr(&out)
        .lines()
        .any(|l| l.starts_with("_iso_sbom: warning: the cache") && l.contains("digest"));
    assert!(warned, "{}", stderr(&out));
    assert!(fs::read(c.build_root().join("metalk8s.iso")).unwrap() == iso_a);

    // `cache stats` counts the entries and this build root's runs.
    let out = c.run(&["--cache", &url, "cache", "stats"], &[]);
    let said = ok(&out);
    assert!(said.contains(&format!("{} entries", tags.len())), "{said}");
    assert!(said.contains("1 failed lookups"), "{said}");

    // `cache prune`: a dry run lists, a real one deletes (the tags go with the manifests);
    // a readwrite build then fills the cache again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = c.run(
        &[
            "--cache",
            &url,
            "cache",
            "prune",
            "--older-than",
            "1s",
            "--dry-run",
        ],
        &[],
    );
    assert!(
        ok(&out).contains(&format!("{} entries created before", tags.len())),
        "{}",
        stdout(&out)
    );
    let out = c.run(
        &["--cache", &url, "cache", "prune", "--older-than", "1d"],
        &[],
    );
    assert!(
        ok(&out).contains("0 entries created before"),
        "{}",
        stdout(&out)
    );
    let out = c.run(
        &["--cache", &url, "cache", "prune", "--older-than", "1s"],
        &[],
    );
    assert_eq!(
        ok(&out).matches("deleted ").count(),
        tags.len(),
        "{}",
        stdout(&out)
    );
    let out = c.run(&["--cache", &url, "cache", "stats"], &[]);
    assert!(ok(&out).contains("registry: 0 entries"), "{}", stdout(&out));
    // A build root whose outputs are up to date keeps those the cache lacks (a run killed
    // while saving, a build made without the cache), without running anything.
    let out = c.run(&["--reporter", "json", "--cache", &url, "iso"], &[]);
    assert!(
        with(&events(&ok(&out)), "success").is_empty(),
        "nothing runs"
    );
    let out = c.run(&["--cache", &url, "cache", "stats"], &[]);
    assert!(
        ok(&out).contains(&format!("registry: {} entries", tags.len())),
        "{}",
        stdout(&out)
    );
    // A cache host must be one: a bare name would be Docker Hub.
    let out = c.run(
        &["--cache", "oci://cachehost/bc/cache", "cache", "stats"],
        &[],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("Docker Hub"),
        "{}",
        stderr(&out)
    );
    let out = c.run(
        &["--cache", &url, "cache", "prune", "--older-than=-1d"],
        &[],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("must be positive"),
        "{}",
        stderr(&out)
    );

    // The registry stopped mid-build: the build goes on without it.
    let d = clone_with(&versions, &lock);
    let mut child = d
        .command(
            &[
                "--reporter",
                "json",
                "--cache",
                &url,
                "--cache-mode",
                "read",
                "-n",
                "1",
                "iso",
            ],
            &[],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut restored = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("\"restored\"") {
            restored += 1;
            if restored == 3 {
                drop(cache_registry.take());
            }
        }
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(restored >= 3 && cache_registry.is_none());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("warning: the cache"),
        "a lookup failed and said so"
    );
    assert!(fs::read(d.build_root().join("metalk8s.iso")).unwrap() == iso_a);
}

fn buildchain_cache_artifact_type() -> &'static str {
    "application/vnd.buildchain.task-outputs.v1+json"
}
