//! Builds the distribution's images (images/*) and checks them with skopeo and umoci.

mod common;

use buildchain_oci::build::{build_image, input_files, BuildContext, ImageDefinition};
use buildchain_oci::{ManifestFormat, OciError};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn check_with_tools(image_dir: &Path, work: &Path, expect_file: &str) -> serde_json::Value {
    let skopeo = require_tool("skopeo");
    let umoci = require_tool("umoci");
    let inspect = run(Command::new(&skopeo)
        .arg("inspect")
        .arg(format!("dir:{}", image_dir.display())));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    std::fs::create_dir_all(work).unwrap();
    let oci = work.join("oci");
    run(Command::new(&skopeo)
        .args(["copy", "--quiet"])
        .arg(format!("dir:{}", image_dir.display()))
        .arg(format!("oci:{}:test", oci.display())));
    let bundle = work.join("bundle");
    run(Command::new(&umoci)
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:test", oci.display()))
        .arg(&bundle));
    let unpacked = bundle
        .join("rootfs")
        .join(expect_file.trim_start_matches('/'));
    assert!(
        unpacked.is_file(),
        "{} missing after umoci unpack",
        unpacked.display()
    );
    inspect
}

#[test]
fn distribution_images_build_and_pass_skopeo_and_umoci() {
    let root = repo_root();
    for (name, expect_file, layers) in [
        ("metalk8s-utils", "/usr/local/bin/metalk8s-utils", 2),
        ("example-operator", "/usr/local/bin/example-operator", 2),
    ] {
        let work = tempfile::tempdir().unwrap();
        let def = ImageDefinition::load(&root.join("images").join(name)).unwrap();
        assert_eq!(def.name, name);
        let ctx = BuildContext::new(&root, 1_700_000_000);
        let dest = work.path().join("out").join(name).join("0.1.0");
        let report = build_image(&def, &ctx, &dest).unwrap();
        assert_eq!(report.layers.len(), layers);
        let inspect = check_with_tools(&dest, work.path(), expect_file);
        assert_eq!(inspect["Architecture"], "amd64");
        assert_eq!(inspect["Os"], "linux");
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), layers);
        assert_eq!(inspect["Created"], "2023-11-14T22:13:20Z");
        let manifest = std::fs::read(dest.join("manifest.json")).unwrap();
        assert_eq!(
            format!("sha256:{}", sha256_hex(&manifest)),
            report.manifest_digest.to_string()
        );
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("version")).unwrap(),
            "Directory Transport Version: 1.1\n"
        );

        // Executable bit, owner and clamped mtime inside the layer.
        let bin = work
            .path()
            .join("bundle/rootfs")
            .join(expect_file.trim_start_matches('/'));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
            0o755
        );

        // Same SOURCE_DATE_EPOCH, same digests; another one, another manifest.
        let again = build_image(&def, &ctx, &work.path().join("again")).unwrap();
        assert_eq!(again.manifest_digest, report.manifest_digest);
        let later = build_image(
            &def,
            &BuildContext::new(&root, 1_800_000_000),
            &work.path().join("later"),
        )
        .unwrap();
        assert_ne!(later.manifest_digest, report.manifest_digest);

        // The inputs list the definition and every source file.
        let inputs = input_files(&def, &ctx).unwrap();
        assert!(inputs.contains(&def.definition_file()));
        assert!(
            inputs
                .iter()
                .any(|p| p.ends_with(expect_file.rsplit('/').next().unwrap())),
            "{inputs:?}"
        );
    }
}

#[test]
fn metalk8s_utils_layer_content() {
    let root = repo_root();
    let work = tempfile::tempdir().unwrap();
    let def = ImageDefinition::load(&root.join("images/metalk8s-utils")).unwrap();
    let report = build_image(
        &def,
        &BuildContext::new(&root, 1_700_000_000),
        &work.path().join("img"),
    )
    .unwrap();
    let layer = work.path().join("img").join(report.layers[1].digest.hex());
    let listing = run(Command::new(require_tool("tar"))
        .arg("-tvzf")
        .arg(&layer)
        .env("TZ", "UTC"));
    assert!(
        listing.contains("drwxrwxrwt 0/0") && listing.contains("tmp/"),
        "{listing}"
    );
    assert!(listing.contains("etc/metalk8s-utils/VERSION"), "{listing}");
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "owner not 0/0: {line}");
    }
    // Entries sorted, parents before children.
    let names: Vec<&str> = listing
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // gzip header: no mtime, no name.
    let gz = std::fs::read(&layer).unwrap();
    assert_eq!(&gz[3..8], &[0, 0, 0, 0, 0], "FLG and MTIME must be zero");
}

#[test]
fn oci_format_and_base_image() {
    let root = repo_root();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let utils = ImageDefinition::load(&root.join("images/metalk8s-utils")).unwrap();
    let mut ctx = BuildContext::new(&root, 1_700_000_000);
    ctx.format = ManifestFormat::Oci;
    build_image(&utils, &ctx, &w.join("utils-oci")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.join("utils-oci/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    check_with_tools(
        &w.join("utils-oci"),
        &w.join("t1"),
        "/usr/local/bin/node-info",
    );

    // An image on top of a base image (the OCI build above), written as v2s2.
    let def_dir = w.join("def/derived");
    std::fs::create_dir_all(&def_dir).unwrap();
    std::fs::write(def_dir.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(
        def_dir.join("image.toml"),
        "[image]\nbase = \"utils\"\n[config]\nenv = [\"EXTRA=1\"]\ncmd = [\"node-info\"]\n[[layers]]\nfiles = [{ src = \"hello.txt\", dest = \"/srv/\" }]\n",
    )
    .unwrap();
    let derived = ImageDefinition::load(&def_dir).unwrap();
    let mut ctx = BuildContext::new(&root, 1_700_000_000);
    let missing = build_image(&derived, &ctx, &w.join("derived")).unwrap_err();
    assert!(
        missing.to_string().contains("base image \"utils\""),
        "{missing}"
    );
    assert!(!w.join("derived").exists());
    ctx.base_images.insert("utils".into(), w.join("utils-oci"));
    build_image(&derived, &ctx, &w.join("derived")).unwrap();
    let inspect = check_with_tools(&w.join("derived"), &w.join("t2"), "/srv/hello.txt");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
    let env = inspect["Env"].as_array().unwrap();
    assert!(
        env.iter().any(|e| e == "EXTRA=1")
            && env.iter().any(|e| e.as_str().unwrap().starts_with("PATH="))
    );
    assert!(w
        .join("t2/bundle/rootfs/usr/local/bin/metalk8s-utils")
        .is_file());
    assert!(input_files(&derived, &ctx)
        .unwrap()
        .contains(&w.join("utils-oci/manifest.json")));
}

fn definition_error(toml: &str, files: &[(&str, &str)]) -> String {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("broken-image");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("image.toml"), toml).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let dest = work.path().join("out");
    let result = ImageDefinition::load(&dir)
        .and_then(|def| build_image(&def, &BuildContext::new(work.path(), 0), &dest).map(|_| ()));
    let err = result.expect_err(toml);
    assert!(!dest.exists(), "partial output left for {toml}");
    assert!(leftovers(work.path()).is_empty());
    let text = err.to_string();
    assert!(
        text.contains("broken-image"),
        "error does not name the image: {text}"
    );
    if let OciError::Definition { path, .. } = &err {
        assert!(path.ends_with("image.toml"));
    }
    text
}

#[test]
fn malformed_definitions_are_refused() {
    let layer = "[[layers]]\nfiles = [{ src = \"a\", dest = \"/a\" }]\n";
    for (toml, expect) in [
        ("[image\n", "image.toml"),
        ("[image]\nbase = 3\n", "base"),
        ("[image]\nunknown = 1\n", "unknown"),
        ("[image]\n", "no [[layers]]"),
        (&format!("[image]\nplatform = \"linux\"\n{layer}") as &str, "platform"),
        ("[[layers]]\ncomment = \"nothing\"\n", "empty layer"),
        ("[[layers]]\nfiles = [{ src = \"../../etc/passwd\", dest = \"/a\" }]\n", "'..'"),
        ("[[layers]]\nfiles = [{ src = \"/etc/passwd\", dest = \"/a\" }]\n", "relative"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"relative\" }]\n", "absolute"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"/x/../../a\" }]\n", "'..'"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"/a\", mode = 755000 }]\n", "mode"),
        ("[[layers]]\nfiles = [{ src = \"missing\", dest = \"/a\" }]\n", "missing"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"/a\" }, { src = \"a\", dest = \"/a\" }]\n", "twice"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"/a\" }, { src = \"a\", dest = \"/a/b\" }]\n", "below"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"/a\", from = \"elsewhere\" }]\n", "from"),
        ("[[layers]]\nfiles = [{ src = \"a\", dest = \"/a\", from = \"build\" }]\n", "build root"),
        (&format!("[config]\nenv = [\"NOEQUALS\"]\n{layer}") as &str, "KEY=value"),
        (&format!("[config]\nexposed_ports = [\"http\"]\n{layer}") as &str, "exposed port"),
        (&format!("[config]\nworkdir = \"rel\"\n{layer}") as &str, "workdir"),
        (&format!("[image]\nname = \"Bad Name\"\n{layer}") as &str, "image.name"),
    ] {
        let text = definition_error(toml, &[("a", "content")]);
        assert!(text.contains(expect), "{toml:?}: {text}");
    }
}

#[test]
fn symlinked_directories_cannot_escape_the_source_root() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("sneaky");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(work.path().join("outside")).unwrap();
    std::fs::write(work.path().join("outside/secret"), "secret").unwrap();
    std::os::unix::fs::symlink(work.path().join("outside"), dir.join("etc-link")).unwrap();
    std::fs::write(
        dir.join("image.toml"),
        "[[layers]]\nfiles = [{ src = \"etc-link/secret\", dest = \"/x\" }]\n",
    )
    .unwrap();
    let def = ImageDefinition::load(&dir).unwrap();
    let err = build_image(
        &def,
        &BuildContext::new(work.path(), 0),
        &work.path().join("out"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("leads out of"), "{err}");
    assert!(!work.path().join("out").exists());
}

#[test]
fn missing_definition_names_the_image() {
    let work = tempfile::tempdir().unwrap();
    let err = ImageDefinition::load(&work.path().join("ghost"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ghost") && err.contains("image.toml"), "{err}");
}
