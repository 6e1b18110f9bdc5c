//! One ISO for amd64 and arm64 nodes, against the real tools: two-platform indexes pushed
//! to Debian's docker-registry by skopeo, pulled by `buildchain pull --all` as `skopeo copy
//! --all` does, built into an ISO whose nginx registry answers containerd with the right
//! manifest for `--platform linux/arm64` and `linux/amd64`; shared layers stored once
//! (isoinfo extents); a yum repository per architecture that dnf `--forcearch` reads.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use buildchain_testkit::run_ok as tool;
use common::images::*;
use common::*;

/// Deterministic, poorly compressible text of about `len` bytes.
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed;
    (0..len / 2)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1442695040888963407);
            format!("{:02x}", (state >> 56) as u8)
        })
        .collect()
}

fn package(repo: &Path, name: &str, arch: &str) {
    let dir = repo.join("packages").join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("tool.conf"), format!("{name} for {arch}\n")).unwrap();
    fs::write(
        dir.join("package.toml"),
        format!(
            "name = \"{name}\"\nversion = \"1.0\"\nrelease = \"1\"\nsummary = \"{name}\"\n\
             description = \"A package for {arch}.\"\nlicense = \"Apache-2.0\"\narch = \"{arch}\"\n\n\
             [[files]]\nsource = \"packages/{name}/tool.conf\"\ndest = \"/etc/{name}.conf\"\nmode = \"0644\"\n"
        ),
    )
    .unwrap();
}

/// `name.arch` of every package dnf sees for `arch` in the repository at `baseurl`.
fn dnf_available(baseurl: &str, arch: &str, work: &Path) -> Vec<String> {
    let out = tool(
        dnf_in(
            &work.join(format!("dnf-{arch}")),
            &format!("[iso]\nname=iso\nbaseurl={baseurl}\nenabled=1\ngpgcheck=0\n"),
        )
        .args([
            "--forcearch",
            arch,
            "-q",
            "repoquery",
            "--qf",
            "%{name}.%{arch}\n",
        ]),
    );
    let mut names: Vec<String> = out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    names.sort();
    names
}

#[test]
fn one_iso_serves_amd64_and_arm64_nodes() {
    for t in ["skopeo", "nginx", "bsdtar", "isoinfo", "dnf", "rpm"] {
        need(t);
    }
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let host = registry.host();

    // Three two-platform images sharing a base layer (about 1 MiB gzipped).
    let shared = noise(7, 2 << 20);
    let mut pushed = Vec::new();
    for i in 0..3 {
        let src = w.join(format!("src{i}"));
        let platforms = make_index_image(w, &src, &shared, &noise(100 + i, 256 << 10));
        let index = registry.push_index(&src, &format!("multi/img{i}:1.0"));
        pushed.push((format!("multi/img{i}"), index, platforms, src));
    }

    // `buildchain pull --all`, and --platform given twice, equal `skopeo copy --all`.
    let reference = format!("{host}/multi/img0:1.0");
    let theirs = w.join("skopeo-all");
    tool(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("dir:{}", theirs.display())),
    );
    for (dest, flags) in [
        ("ours-all", vec!["--all"]),
        (
            "ours-both",
            vec!["--platform", "linux/arm64", "--platform", "linux/amd64"],
        ),
    ] {
        let dest = w.join(dest);
        let mut args = vec!["pull", "--insecure"];
        args.extend(flags);
        args.extend([reference.as_str(), dest.to_str().unwrap()]);
        let out = run_in(w, &args, &[]);
        assert!(ok(&out).contains("linux/arm64"), "{}", stdout(&out));
        assert_same_image(&dest, &theirs);
    }
    // A platform the index lacks: refused, naming those it has; nothing written.
    let none = w.join("ours-none");
    let out = run_in(
        w,
        &[
            "pull",
            "--insecure",
            "--platform",
            "linux/arm64",
            "--platform",
            "linux/s390x",
            &reference,
            none.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !out.status.success()
            && stderr(&out).contains("linux/s390x")
            && stderr(&out).contains("linux/arm64"),
        "{}",
        stderr(&out)
    );
    assert!(!none.exists());
    // An index listing a platform twice: which manifest a node gets would depend on its
    // runtime: refused.
    let twice = w.join("twice");
    tool(Command::new("cp").arg("-a").arg(&pushed[2].3).arg(&twice));
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(twice.join("manifest.json")).unwrap()).unwrap();
    let mut entries = index["manifests"].as_array().unwrap().clone();
    let mut again = entries[0].clone();
    again["platform"] = entries[1]["platform"].clone();
    entries.push(again);
    let doubled = serde_json::json!({"schemaVersion": 2, "mediaType": index["mediaType"], "manifests": entries});
    fs::write(
        twice.join("manifest.json"),
        serde_json::to_vec(&doubled).unwrap(),
    )
    .unwrap();
    registry.push_index(&twice, "multi/twice:1.0");
    let out = run_in(
        w,
        &[
            "pull",
            "--insecure",
            "--all",
            &format!("{host}/multi/twice:1.0"),
            w.join("ours-twice").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("lists linux/arm64 twice"),
        "{}",
        stderr(&out)
    );
    // linux/arm64/v8 is served by an entry that says linux/arm64 (the default variant).
    let v8 = w.join("ours-v8");
    ok(&run_in(
        w,
        &[
            "pull",
            "--insecure",
            "--platform",
            "linux/arm64/v8",
            &reference,
            v8.to_str().unwrap(),
        ],
        &[],
    ));
    // One platform: its manifest alone, as before.
    let one = w.join("ours-arm64");
    ok(&run_in(
        w,
        &[
            "pull",
            "--insecure",
            "--platform",
            "linux/arm64",
            &reference,
            one.to_str().unwrap(),
        ],
        &[],
    ));
    let arm64 = &pushed[0].2[1];
    assert_eq!(
        format!(
            "sha256:{}",
            sha256_hex(&fs::read(one.join("manifest.json")).unwrap())
        ),
        arm64.1
    );

    // The distribution: both platforms, the three images, a package per architecture.
    let repo = Repo::copy();
    let versions_path = repo.path().join("versions.toml");
    let versions = fs::read_to_string(&versions_path).unwrap();
    let mut multi = format!("platforms = [\"linux/amd64\", \"linux/arm64\"]\n{versions}");
    multi.push_str(&format!(
        "\n[[registries]]\nhost = \"{host}\"\ninsecure = true\n"
    ));
    for (name, _, _, _) in &pushed {
        multi.push_str(&format!(
            "\n[[images]]\nname = \"{name}\"\nversion = \"1.0\"\nsource = \"{host}\"\n"
        ));
    }
    for (name, arch) in [("arm-tool", "aarch64"), ("x86-tool", "x86_64")] {
        package(repo.path(), name, arch);
        multi.push_str(&format!(
            "\n[[packages]]\nname = \"{name}\"\nrepository = \"metalk8s-scality-el8\"\nsource = \"build\"\n"
        ));
    }
    fs::write(&versions_path, &multi).unwrap();
    ok(&repo.run(&["lock"], &[]));
    ok(&repo.run(&["iso"], &[]));
    let iso = repo.build_root().join("metalk8s.iso");
    let tree = w.join("tree");
    fs::create_dir_all(&tree).unwrap();
    tool(
        Command::new("bsdtar")
            .arg("-xf")
            .arg(&iso)
            .arg("-C")
            .arg(&tree),
    );

    // versions.json: the index digest and each platform's manifest.
    let product_id = "metalk8s-0.1.0-dev";
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(tree.join("salt/metalk8s/versions.json")).unwrap())
            .unwrap();
    for (name, index, platforms, _) in &pushed {
        let entry = &json["images"][name]["versions"][0];
        assert_eq!(entry["digest"], index.as_str(), "{json:#}");
        let recorded: BTreeMap<String, String> =
            serde_json::from_value(entry["platforms"].clone()).unwrap();
        let expected: BTreeMap<String, String> = platforms.iter().cloned().collect();
        assert_eq!(recorded, expected);
    }
    let utils = &json["images"]["metalk8s-utils"]["versions"][0]["platforms"];
    assert_eq!(
        utils.as_object().map(|o| o.len()),
        Some(2),
        "the built image is an index: {json:#}"
    );
    assert_eq!(
        json["repositories"][0]["arches"],
        serde_json::json!(["x86_64", "aarch64"])
    );

    // nginx serves the unpacked ISO with the registry include it ships.
    let files = tree.join("salt/metalk8s/repo/files");
    let server = buildchain_testkit::Nginx::start(
        &w.join("nginx"),
        &format!(
            "set $metalk8s_0_1_0_dev_images \"{}/images/\";\ninclude {};\ninclude {};",
            tree.display(),
            files.join("metalk8s-registry-common.inc").display(),
            files.join("metalk8s-registry.inc").display()
        ),
    );
    let served = server.host();

    // containerd (this amd64 host) pulls each platform and gets its manifest, nothing else.
    let containerd = buildchain_testkit::Containerd::start(&w.join("containerd"));
    let contents = || stdout(&containerd.ctr(&["content", "ls", "-q"]));
    let mut built = Vec::new();
    for (platform, digest) in utils.as_object().unwrap() {
        built.push((platform.clone(), digest.as_str().unwrap().to_string()));
    }
    let mut all: Vec<(String, Vec<(String, String)>)> = pushed
        .iter()
        .map(|(name, _, platforms, _)| (name.clone(), platforms.clone()))
        .collect();
    all.push(("metalk8s-utils".into(), built));
    for (name, platforms) in &all {
        let tag = if name == "metalk8s-utils" {
            "0.1.0"
        } else {
            "1.0"
        };
        let reference = format!("{served}/{product_id}/{name}:{tag}");
        let (amd, arm) = (
            &platforms.iter().find(|p| p.0 == "linux/amd64").unwrap().1,
            &platforms.iter().find(|p| p.0 == "linux/arm64").unwrap().1,
        );
        let out = containerd.pull(&reference, &["--platform", "linux/arm64"]);
        assert!(
            out.status.success(),
            "{reference} arm64: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let seen = contents();
        assert!(
            seen.contains(arm.as_str()),
            "{name}: arm64 manifest {arm} not fetched:\n{seen}"
        );
        if name != "metalk8s-utils" {
            // Its own arm64 layer only: the amd64 manifest was not asked for.
            assert!(
                !seen.contains(amd.as_str()),
                "{name}: amd64 manifest fetched for arm64"
            );
        }
        let out = containerd.pull(&reference, &["--platform", "linux/amd64"]);
        assert!(
            out.status.success(),
            "{reference} amd64: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            contents().contains(amd.as_str()),
            "{name}: amd64 manifest {amd} not fetched"
        );
    }

    // skopeo copy --all through nginx: the index as pushed, with both platforms.
    let (name, _, _, src) = &pushed[1];
    let copied = w.join("copied-all");
    tool(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{served}/{product_id}/{name}:1.0"))
            .arg(format!("dir:{}", copied.display())),
    );
    assert_same_image(&copied, src);

    // The shared base layer: one file for both platforms, one extent for all images.
    let base_hex = names(src)
        .into_iter()
        .find(|n| n.len() == 64 && fs::metadata(src.join(n)).unwrap().len() > (512 << 10))
        .unwrap();
    let listing = tool(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&iso));
    let extents: std::collections::BTreeSet<String> = listing
        .lines()
        .filter(|l| l.trim_end().ends_with(&format!(" {base_hex}")))
        .map(|l| {
            l[l.find('[').unwrap() + 1..l.find(']').unwrap()]
                .trim()
                .to_string()
        })
        .collect();
    let copies = listing
        .lines()
        .filter(|l| l.trim_end().ends_with(&format!(" {base_hex}")))
        .count();
    assert_eq!(copies, 3, "in each image's directory");
    assert_eq!(extents.len(), 1, "stored once: {extents:?}");

    // A repository per architecture; dnf reads the node's ($basearch).
    let repo_dir = tree.join("packages/redhat/8/metalk8s-scality-el8");
    assert_eq!(names(&repo_dir), ["aarch64", "x86_64"]);
    let baseurl = format!("file://{}/$basearch", repo_dir.display());
    let arm = dnf_available(&baseurl, "aarch64", w);
    assert!(
        arm.contains(&"arm-tool.aarch64".to_string())
            && arm.contains(&"metalk8s-release.noarch".to_string()),
        "{arm:?}"
    );
    assert!(!arm.iter().any(|p| p.starts_with("x86-tool")), "{arm:?}");
    let x86 = dnf_available(&baseurl, "x86_64", w);
    assert!(
        x86.contains(&"x86-tool.x86_64".to_string())
            && x86.contains(&"metalk8s-release.noarch".to_string()),
        "{x86:?}"
    );
    assert!(!x86.iter().any(|p| p.starts_with("arm-tool")), "{x86:?}");
    // noarch packages: one inode in both directories.
    let release = names(&repo_dir.join("x86_64"))
        .into_iter()
        .find(|n| n.starts_with("metalk8s-release"))
        .unwrap();
    let (a, b) = (
        fs::metadata(
            repo.build_root()
                .join("root/packages/redhat/8/metalk8s-scality-el8/x86_64")
                .join(&release),
        )
        .unwrap(),
        fs::metadata(
            repo.build_root()
                .join("root/packages/redhat/8/metalk8s-scality-el8/aarch64")
                .join(&release),
        )
        .unwrap(),
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(a.ino(), b.ino());

    // The same distribution for amd64 alone: the ISO grows by the arm64 layers (and small
    // manifests and metadata), not by the shared ones.
    fs::write(
        &versions_path,
        multi.replacen("platforms = [\"linux/amd64\", \"linux/arm64\"]\n", "", 1),
    )
    .unwrap();
    let single_root = w.join("single");
    ok(&repo.run(&["iso"], &[("BUILD_ROOT", single_root.to_str().unwrap())]));
    let single = fs::metadata(single_root.join("metalk8s.iso"))
        .unwrap()
        .len();
    let both = fs::metadata(&iso).unwrap().len();
    let arm64_layers: u64 = pushed
        .iter()
        .map(|(_, _, _, src)| {
            let child = src.join(format!("{}.manifest.json", pushed_arm(src)));
            let manifest: serde_json::Value =
                serde_json::from_slice(&fs::read(child).unwrap()).unwrap();
            manifest["layers"][1]["size"].as_u64().unwrap()
        })
        .sum();
    eprintln!(
        "ISO amd64 only: {single} bytes; amd64+arm64: {both} bytes; growth {} bytes; arm64-only layers {arm64_layers} bytes; shared base layer {} bytes x 3 images",
        both - single,
        fs::metadata(src.join(&base_hex)).unwrap().len()
    );
    assert!(
        both - single >= arm64_layers,
        "the arm64 layers are shipped"
    );
    assert!(
        both - single < arm64_layers + (512 << 10),
        "only they: growth {}",
        both - single
    );

    // A platform an index lacks is said when locking, not by a pull a new lock cannot mend.
    let lacking = multi.replacen(
        "name = \"multi/img0\"\nversion = \"1.0\"\n",
        "name = \"multi/img0\"\nversion = \"1.0\"\nplatforms = [\"linux/amd64\", \"linux/ppc64le\"]\n",
        1,
    );
    assert_ne!(lacking, multi);
    fs::write(&versions_path, lacking).unwrap();
    let out = repo.run(&["lock", "--update", "multi/img0"], &[]);
    assert!(
        !out.status.success() && stderr(&out).contains("its index has no linux/ppc64le manifest"),
        "{}",
        stderr(&out)
    );
}

/// The hex digest of the arm64 manifest of the index in `src`.
fn pushed_arm(src: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(src.join("manifest.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string()
}
