//! `sbom.spdx.json` at the ISO root: validated by pyspdxtools (spdx-tools), listing every
//! image manifest and RPM file of the ISO by digest, the requirements the resolver chose,
//! and the same bytes from a second build.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::images::*;
use common::*;

/// pyspdxtools of the environment ci/setup.sh makes (or `PYSPDXTOOLS_BIN`).
fn pyspdxtools() -> PathBuf {
    buildchain_testkit::require_venv_tool("spdx", "pyspdxtools", "PYSPDXTOOLS_BIN")
}

/// Validates `sbom` with pyspdxtools (it prints what is wrong, and exits non-zero).
fn validate(sbom: &Path) {
    let out = Command::new(pyspdxtools())
        .arg("-i")
        .arg(sbom)
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        out.status.success() && !said.contains("validation"),
        "pyspdxtools: {said}"
    );
}

/// Every file of `dir` (recursively) named by `pick`.
fn files(dir: &Path, pick: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if pick(&path) {
                found.push(path);
            }
        }
    }
    found
}

/// The repository's ISO plus 40 images pulled from a real registry and downloaded RPMs
/// (a shipped repository and a base one, locked): the SBOM validates, names every image
/// manifest, layer and RPM by digest, records the requirements the resolver chose, and a
/// second build in another build root gives the same bytes.
#[test]
fn the_sbom_names_everything_the_iso_ships() {
    for tool in ["skopeo", "rpmbuild", "createrepo_c", "nginx"] {
        need(tool);
    }
    pyspdxtools();
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let images = forty_images(&registry, w);
    let www = w.join("www");
    buildchain_testkit::yum_repository(
        &[fixture("oslib", "1.0", "/usr/share/fixture/oslib", &[])],
        &www.join("os"),
        &w.join("rpmbuild"),
    );
    buildchain_testkit::yum_repository(
        &[
            fixture("app", "1.0", "/usr/share/fixture/app", &["helper", "oslib"]),
            fixture("helper", "1.0", "/usr/share/fixture/helper", &[]),
        ],
        &www.join("extra"),
        &w.join("rpmbuild"),
    );
    let nginx =
        buildchain_testkit::Nginx::start(&w.join("nginx"), &format!("root {};", www.display()));
    let url = |path: &str| format!("http://{}/{path}/", nginx.host());

    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let original = fs::read_to_string(&versions).unwrap();
    fs::write(
        &versions,
        format!(
            "{original}{images}\n[[registries]]\nhost = \"{}\"\ninsecure = true\n\n\
             [[repositories]]\nid = \"os-el8\"\nrelease = \"8\"\nurl = \"{}\"\nbase = true\n\n\
             [[repositories]]\nid = \"extra-el8\"\nrelease = \"8\"\nurl = \"{}\"\n\n\
             [[packages]]\nname = \"app\"\nrepository = \"extra-el8\"\nsource = \"download\"\n",
            registry.host(),
            url("os"),
            url("extra")
        ),
    )
    .unwrap();
    ok(&repo.run(&["lock"], &[]));
    ok(&repo.run(&["--locked", "iso"], &[]));
    let root = repo.build_root().join("root");
    let sbom_path = root.join("sbom.spdx.json");
    validate(&sbom_path);
    let text = fs::read_to_string(&sbom_path).unwrap();
    let sbom: serde_json::Value = serde_json::from_str(&text).unwrap();
    let checksums: Vec<&str> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["checksums"].as_array().into_iter().flatten())
        .filter_map(|c| c["checksumValue"].as_str())
        .collect();

    // Every image manifest and blob of the ISO, every RPM file, by SHA-256.
    let manifests = files(&root.join("images"), &|p| {
        p.file_name().is_some_and(|n| n == "manifest.json")
    });
    assert_eq!(manifests.len(), 41, "40 pulled and metalk8s-utils");
    for manifest in &manifests {
        let hex = buildchain_fs::sha256_file(manifest).unwrap();
        assert!(checksums.contains(&hex.as_str()), "{}", manifest.display());
        let parsed: serde_json::Value =
            serde_json::from_slice(&fs::read(manifest).unwrap()).unwrap();
        for layer in parsed["layers"].as_array().unwrap() {
            let digest = layer["digest"].as_str().unwrap();
            assert!(checksums.contains(&&digest[7..]), "layer {digest}");
        }
    }
    let rpms = files(&root.join("packages"), &|p| {
        p.extension().is_some_and(|e| e == "rpm")
    });
    assert_eq!(rpms.len(), 4, "two built, two downloaded: {rpms:?}");
    for rpm in &rpms {
        let hex = buildchain_fs::sha256_file(rpm).unwrap();
        assert!(checksums.contains(&hex.as_str()), "{}", rpm.display());
    }
    // The requirements the resolver chose, the base package among them.
    let id_of = |name: &str| {
        sbom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["SPDXID"].as_str().unwrap().to_string())
            .unwrap()
    };
    let depends: Vec<(String, String)> = sbom["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_string(),
                r["relatedSpdxElement"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for dependency in ["helper", "oslib"] {
        assert!(
            depends.contains(&(id_of("app"), id_of(dependency))),
            "{depends:?}"
        );
    }

    // Another build root, the same inputs: the same bytes.
    let again = w.join("again");
    ok(&repo.run(
        &["--locked", "iso"],
        &[("BUILD_ROOT", again.to_str().unwrap())],
    ));
    assert_eq!(
        fs::read_to_string(again.join("root/sbom.spdx.json")).unwrap(),
        text
    );
    drop(nginx);
}
