//! End to end, as MetalK8s consumes a Solution: `solution-archive build`, the ISO read back
//! natively, `registry-config.inc.j2` rendered with `repository` and `registry_root`,
//! served by real nginx, every image of `spec.images` inspected and pulled by real skopeo.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// nginx (buildchain-testkit) serving the constant locations and `include`.
fn start_nginx(dir: &Path, include: &Path) -> buildchain_testkit::Nginx {
    let constants = static_container_registry::generate(
        dir,
        &static_container_registry::Options {
            constants: static_container_registry::Constants::Only,
            ..Default::default()
        },
    )
    .unwrap();
    fs::write(dir.join("constants.inc"), constants).unwrap();
    buildchain_testkit::Nginx::start(
        dir,
        &format!(
            "include {}/constants.inc;\ninclude {};",
            dir.display(),
            include.display()
        ),
    )
}

fn skopeo(args: &[&str]) -> std::process::Output {
    require_tool("skopeo");
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn built_archive_is_served_by_nginx_and_pulled_by_skopeo() {
    let (dir, root) = solution();
    let iso = dir.path().join("example.iso");
    let out = run(&["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The ISO as MetalK8s mounts it at /srv/scality/<id>.
    let mount = dir.path().join("mnt/example-1.0.0");
    buildchain_iso9660::IsoImage::open(&iso)
        .unwrap()
        .extract(&mount)
        .unwrap();
    let report = solution_archive::validate_path(&mount).unwrap();
    assert!(report.findings.is_empty(), "{}", report.to_text());

    // What Salt renders from the template.
    let template = fs::read_to_string(mount.join("registry-config.inc.j2")).unwrap();
    let rendered = template
        .replace("{{ repository }}", "example-1.0.0")
        .replace(
            "{{ registry_root }}",
            &mount.join("images").display().to_string(),
        );
    let server_dir = dir.path().join("nginx");
    fs::create_dir_all(&server_dir).unwrap();
    let include = server_dir.join("example.inc");
    fs::write(&include, rendered).unwrap();
    let server = start_nginx(&server_dir, &include);

    for (name, tag) in [
        ("example-operator", "1.0.0"),
        ("base", "2.0.0"),
        ("base", "latest"),
    ] {
        let reference = format!(
            "docker://127.0.0.1:{}/example-1.0.0/{name}:{tag}",
            server.port
        );
        let manifest = fs::read(mount.join(format!("images/{name}/{tag}/manifest.json"))).unwrap();
        let inspect = skopeo(&["inspect", "--tls-verify=false", &reference]);
        let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(json["Digest"], format!("sha256:{}", sha256_hex(&manifest)));
        let pulled = dir.path().join(format!("pulled-{name}-{tag}"));
        skopeo(&[
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            &reference,
            &format!("dir:{}", pulled.display()),
        ]);
        assert_eq!(fs::read(pulled.join("manifest.json")).unwrap(), manifest);
        let layer = layer_path(&mount, &format!("{name}/{tag}"));
        let pulled_layer = pulled.join(layer.file_name().unwrap());
        assert_eq!(fs::read(pulled_layer).unwrap(), fs::read(&layer).unwrap());
    }
}
