//! The ISO's consumers, for real: the built ISO unpacked to an archives root as a node
//! mounts it; the real, pinned Salt applies the bootstrap node's repository states
//! (`metalk8s.repo.configured`, `test=True` then for real) into a temporary nginx include
//! directory, with the minion configuration the ISO's own `write_salt_minion_config`
//! writes; nginx, started here with that configuration, serves the archive; a private
//! containerd pulls every image by tag and by digest; dnf installs every package over
//! HTTP; a blob removed from the archive is reported by containerd.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use buildchain_testkit::run_ok;
use buildchain_testkit::{Containerd, FixtureRpm, Nginx};
use common::*;

/// The images of an unpacked archive: (name, tag, manifest digest).
fn images_of(archive: &Path) -> Vec<(String, String, String)> {
    let root = archive.join("images");
    let mut images = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "manifest.json") {
                let tag_dir = path.parent().unwrap();
                let name = tag_dir.parent().unwrap().strip_prefix(&root).unwrap();
                let digest = buildchain_fs::sha256_file(&path).unwrap();
                images.push((
                    name.display().to_string(),
                    tag_dir.file_name().unwrap().to_string_lossy().into_owned(),
                    format!("sha256:{digest}"),
                ));
            }
        }
    }
    images.sort();
    images
}

/// The yum repositories of an unpacked archive: (release, id, package names).
fn repositories_of(archive: &Path) -> Vec<(String, String, Vec<String>)> {
    let mut repositories = Vec::new();
    let redhat = archive.join("packages/redhat");
    for release in fs::read_dir(&redhat).unwrap() {
        let release = release.unwrap().path();
        for repo in fs::read_dir(&release).unwrap() {
            let repo = repo.unwrap().path();
            let mut names = Vec::new();
            for file in fs::read_dir(&repo).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "rpm") {
                    let name = run_ok(
                        Command::new("rpm")
                            .args(["-qp", "--qf", "%{NAME}"])
                            .arg(&file),
                    );
                    names.push(name);
                }
            }
            let file_name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
            repositories.push((file_name(&release), file_name(&repo), names));
        }
    }
    repositories.sort();
    repositories
}

/// `salt-call --local` with the node's configuration, in the archive's environment.
fn salt(bin: &Path, config_dir: &Path, product_id: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .arg("--local")
        .arg(format!("--config-dir={}", config_dir.display()))
        .args(["--retcode-passthrough", "--state-output=terse"])
        .args(args)
        .arg(format!("saltenv={product_id}"))
        .arg(format!("pillarenv={product_id}"))
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap()
}

#[test]
fn salt_configures_nginx_which_serves_the_iso_to_containerd_and_dnf() {
    for tool in [
        "bsdtar",
        "nginx",
        "containerd",
        "ctr",
        "dnf",
        "rpm",
        "rpmbuild",
        "createrepo_c",
    ] {
        need(tool);
    }
    let salt_call = need_salt();
    let repo = Repo::copy();
    ok(&repo.run(&["iso"], &[]));
    let iso = fs::read_dir(repo.build_root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "iso"))
        .expect("the built ISO");

    // Unpacked as a node mounts it: <archives root>/<product id>/.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let archives = w.join("archives");
    let unpacked = archives.join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    run_ok(
        Command::new("bsdtar")
            .arg("-xf")
            .arg(&iso)
            .arg("-C")
            .arg(&unpacked),
    );
    let product_id = run_ok(
        Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && printf %s \"$PRODUCT_ID\"")
            .arg("bash")
            .arg(unpacked.join("common.sh")),
    );
    let archive = archives.join(&product_id);
    fs::rename(&unpacked, &archive).unwrap();

    // The minion configuration bootstrap.sh writes (its own function, from the ISO).
    let etc = w.join("etc");
    run_ok(
        Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && write_salt_minion_config bootstrap")
            .arg("bash")
            .arg(archive.join("common.sh"))
            .env("ARCHIVES_ROOT", &archives)
            .env("SALT_MINION_CONFIG", etc.join("minion.d/99-metalk8s.conf"))
            .env("CONFIG_DIR", w.join("metalk8s"))
            .env("BOOTSTRAP_CONFIG", w.join("metalk8s/bootstrap.yaml"))
            .env("LOG_DIR", w.join("log")),
    );
    fs::write(
        etc.join("minion"),
        format!(
            "id: node-test\nroot_dir: {}\n",
            w.join("salt-root").display()
        ),
    )
    .unwrap();

    // The repositories server's paths and port, pointed at this test's directories.
    let port = buildchain_testkit::free_port();
    let nginx_dir = w.join("nginx");
    let server_config = nginx_dir.join("conf.d/metalk8s-repositories.conf");
    fs::create_dir_all(server_config.parent().unwrap()).unwrap();
    let pillar = format!(
        "pillar={{\"metalk8s\": {{\"repo\": {{\"port\": {port}, \"listen_address\": \"127.0.0.1\", \"nginx\": {{\"server_config\": \"{}\", \"include_directory\": \"{}\"}}}}}}}}",
        server_config.display(),
        nginx_dir.join("include").display()
    );
    let apply = |test: bool| {
        let mut args = vec!["state.apply", "metalk8s.repo.configured", pillar.as_str()];
        if test {
            args.push("test=True");
        }
        salt(&salt_call, &etc, &product_id, &args)
    };
    let out = apply(true);
    assert!(
        out.status.success(),
        "test=True: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!server_config.exists(), "test=True changes nothing");
    let out = apply(false);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let include = nginx_dir.join("include/archives");
    assert!(
        server_config.is_file()
            && include.join(format!("{product_id}.conf")).is_file()
            && include.join(format!("{product_id}-registry.inc")).is_file(),
        "{}",
        stdout(&out)
    );

    // nginx with the configuration Salt wrote (its own logs are the server's).
    let _nginx = Nginx::start_http(
        &nginx_dir.join("run"),
        port,
        &format!(
            "include /etc/nginx/mime.types;\ndefault_type application/octet-stream;\ninclude {};",
            server_config.display()
        ),
    );
    let host = format!("127.0.0.1:{port}");

    // containerd pulls every image, by tag and by digest.
    let images = images_of(&archive);
    assert!(!images.is_empty());
    let containerd = Containerd::start(&w.join("containerd"));
    for (name, tag, digest) in &images {
        for reference in [
            format!("{host}/{product_id}/{name}:{tag}"),
            format!("{host}/{product_id}/{name}@{digest}"),
        ] {
            let out = containerd.pull(&reference, &[]);
            assert!(
                out.status.success(),
                "{reference}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }
    let listed = stdout(&containerd.ctr(&["images", "ls", "-q"]));
    for (name, tag, _) in &images {
        let reference = format!("{host}/{product_id}/{name}:{tag}");
        assert!(listed.lines().any(|l| l == reference), "{listed}");
    }

    // dnf installs every package of the archive's repositories over HTTP (what they need
    // of the base OS from a stand-in: `sos`).
    let base = w.join("base");
    buildchain_testkit::yum_repository(
        &[FixtureRpm {
            name: "sos",
            version: "4.5",
            file: "/usr/share/fixture/sos",
            provides: &[],
            requires: &[],
        }],
        &base,
        &w.join("rpmbuild"),
    );
    let root = w.join("installroot");
    fs::create_dir_all(root.join("repos")).unwrap();
    run_ok(Command::new("rpm").arg("--initdb").arg("--root").arg(&root));
    let mut dnf = Command::new("dnf");
    dnf.arg(format!("--installroot={}", root.display()))
        .arg(format!(
            "--setopt=reposdir={}",
            root.join("repos").display()
        ))
        .arg(format!("--repofrompath=base,file://{}", base.display()))
        .args([
            "--setopt=tsflags=noscripts",
            "--nogpgcheck",
            "--releasever=8",
        ])
        .args(["--disablerepo=*", "--enablerepo=base"]);
    let mut names = Vec::new();
    for (release, id, packages) in repositories_of(&archive) {
        dnf.arg(format!(
            "--repofrompath={id},http://{host}/{product_id}/{release}/{id}/"
        ))
        .arg(format!("--enablerepo={id}"));
        names.extend(packages);
    }
    assert!(!names.is_empty());
    run_ok(dnf.args(["-y", "install"]).args(&names));
    let installed =
        run_ok(
            Command::new("rpm")
                .arg("--root")
                .arg(&root)
                .args(["-qa", "--qf", "%{NAME}\n"]),
        );
    for name in &names {
        assert!(installed.lines().any(|l| l == name), "{name}: {installed}");
    }

    // One blob of one image removed from the archive: containerd, starting afresh,
    // reports it missing.
    let (name, tag, _) = &images[0];
    let image_dir: PathBuf = archive.join("images").join(name).join(tag);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(image_dir.join("manifest.json")).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = image_dir.join(layer.trim_start_matches("sha256:"));
    fs::remove_file(&blob).unwrap();
    let fresh = Containerd::start(&w.join("containerd-fresh"));
    let out = fresh.pull(&format!("{host}/{product_id}/{name}:{tag}"), &[]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains(&layer) && said.contains("not found"),
        "{said}"
    );
}
