//! Repodata: byte-equal to createrepo_c's documents, read alike by `dnf repoquery`, and
//! real `dnf --installroot` installs every built package from it.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use buildchain_rpm::repodata::{write_repodata, RepodataOptions};
use common::{build_all, entries, require_tool, run, write_fixture};

fn document(repo: &Path, kind: &str) -> String {
    let dir = repo.join("repodata");
    let name = entries(&dir)
        .into_iter()
        .find(|n| n.ends_with(&format!("-{kind}.xml.gz")))
        .unwrap_or_else(|| panic!("no {kind}.xml.gz in {}", dir.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(dir.join(name)).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn repoquery(repo: &Path, cache: &Path, query: &[&str]) -> Vec<String> {
    let output = run(Command::new("dnf")
        .args([
            "-q",
            "--setopt=reposdir=/dev/null",
            "--releasever=8",
            "--disablerepo=*",
            "--enablerepo=t",
        ])
        .arg(format!("--setopt=cachedir={}", cache.display()))
        .arg(format!("--repofrompath=t,file://{}", repo.display()))
        .arg("repoquery")
        .args(query));
    let mut lines: Vec<String> = output.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn our_repodata_matches_createrepo_c_and_dnf_reads_it_alike() {
    for tool in ["createrepo_c", "dnf"] {
        require_tool(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let fixture = write_fixture(&tmp.path().join("fixture"));
    let ours = tmp.path().join("ours");
    let reference = tmp.path().join("reference");
    fs::create_dir_all(ours.join("sub")).unwrap();
    fs::create_dir_all(reference.join("sub")).unwrap();
    let built = build_all(&ours.join("sub"), &fixture, Some(1_700_000_000));
    // Same files (hard links: same mtimes) in both repositories.
    for (_, rpm, _) in &built {
        let name = rpm.file_name().unwrap();
        fs::hard_link(rpm, reference.join("sub").join(name)).unwrap();
    }
    let report = write_repodata(&ours, &RepodataOptions::default()).unwrap();
    assert_eq!(report.packages, built.len());
    run(Command::new("createrepo_c")
        .args(["-q", "--no-database"])
        .arg(&reference));

    for kind in ["primary", "filelists", "other"] {
        let (a, b) = (document(&ours, kind), document(&reference, kind));
        assert_eq!(a, b, "{kind}.xml differs from createrepo_c's");
    }

    let caches = (tmp.path().join("cache-ours"), tmp.path().join("cache-ref"));
    for query in [
        &[
            "--qf",
            "%{name} %{epoch} %{version} %{release} %{arch}",
            "*",
        ][..],
        &["--requires", "*"],
        &["--provides", "*"],
        &["--conflicts", "*"],
        &["--obsoletes", "*"],
        &["-l", "*"],
    ] {
        let a = repoquery(&ours, &caches.0, query);
        let b = repoquery(&reference, &caches.1, query);
        assert!(
            !a.is_empty() || query[0] == "--conflicts",
            "no answer to {query:?}"
        );
        assert_eq!(a, b, "dnf repoquery {query:?}");
    }
    let names = repoquery(&ours, &caches.0, &["--qf", "%{name}", "*"]);
    for (def, _, _) in &built {
        assert!(
            names.contains(&def.name),
            "{} missing from {names:?}",
            def.name
        );
    }
}

#[test]
fn dnf_installs_every_built_package_from_our_repodata() {
    for tool in ["dnf", "rpm"] {
        require_tool(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let fixture = write_fixture(&tmp.path().join("fixture"));
    let repo = tmp.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let built = build_all(&repo, &fixture, Some(1_700_000_000));
    write_repodata(
        &repo,
        &RepodataOptions {
            source_date_epoch: Some(1_700_000_000),
            ..Default::default()
        },
    )
    .unwrap();

    let root = tmp.path().join("installroot");
    fs::create_dir_all(root.join("repos")).unwrap();
    run(Command::new("rpm").arg("--initdb").arg("--root").arg(&root));
    let names: Vec<&str> = built.iter().map(|(d, _, _)| d.name.as_str()).collect();
    run(Command::new("dnf")
        .arg(format!("--installroot={}", root.display()))
        .arg(format!(
            "--setopt=reposdir={}",
            root.join("repos").display()
        ))
        .arg(format!("--repofrompath=local,file://{}", repo.display()))
        // The stub /bin/sh of the fixture cannot run scriptlets inside the empty root.
        .args([
            "--setopt=tsflags=noscripts",
            "--nogpgcheck",
            "--disablerepo=*",
            "--enablerepo=local",
            "--releasever=8",
            "-y",
            "install",
        ])
        .args(&names));
    let installed =
        run(Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["-qa", "--qf", "%{NAME}\n"]));
    for name in &names {
        assert!(
            installed.lines().any(|l| l == *name),
            "{name} not installed: {installed}"
        );
    }
    for (def, _, source_root) in &built {
        for file in &def.files {
            let got = root.join(file.dest.trim_start_matches('/'));
            assert_eq!(
                fs::read(&got).unwrap(),
                fs::read(source_root.join(&file.source)).unwrap(),
                "{}",
                got.display()
            );
        }
    }
}

#[test]
fn repodata_is_reproducible_and_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = write_fixture(&tmp.path().join("fixture"));
    let repo = tmp.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    build_all(&repo, &fixture, Some(1_700_000_000));
    let options = RepodataOptions {
        source_date_epoch: Some(1_700_000_000),
        ..Default::default()
    };
    let first = write_repodata(&repo, &options).unwrap();
    let repomd = fs::read(&first.repomd).unwrap();
    assert_eq!(first.revision, "1700000000");
    let again = write_repodata(&repo, &options).unwrap();
    assert_eq!(fs::read(&again.repomd).unwrap(), repomd);
    assert_eq!(entries(&repo.join("repodata")).len(), 4);

    // A broken package: an error naming it, the previous repodata untouched, no leftovers.
    fs::write(
        repo.join("zz-broken-1.0-1.noarch.rpm"),
        b"\xed\xab\xee\xdb not really",
    )
    .unwrap();
    let err = write_repodata(&repo, &options).unwrap_err().to_string();
    assert!(err.contains("zz-broken-1.0-1.noarch.rpm"), "{err}");
    assert!(err.contains("not a readable RPM"), "{err}");
    assert_eq!(fs::read(&first.repomd).unwrap(), repomd);
    assert!(
        !entries(&repo).iter().any(|n| n.starts_with('.')),
        "leftovers: {:?}",
        entries(&repo)
    );

    // A header that lies about its size.
    let mut lying = vec![0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0, 0, 1];
    lying.resize(96, b'x');
    lying.extend_from_slice(&[
        0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 16,
    ]);
    lying.resize(200, 0);
    fs::write(repo.join("zz-broken-1.0-1.noarch.rpm"), &lying).unwrap();
    let err = write_repodata(&repo, &options).unwrap_err().to_string();
    assert!(err.contains("zz-broken-1.0-1.noarch.rpm"), "{err}");
    assert_eq!(fs::read(&first.repomd).unwrap(), repomd);

    // Truncated package.
    let victim = entries(&repo)
        .into_iter()
        .find(|n| n.starts_with("featureful"))
        .unwrap();
    fs::remove_file(repo.join("zz-broken-1.0-1.noarch.rpm")).unwrap();
    let bytes = fs::read(repo.join(&victim)).unwrap();
    fs::write(repo.join(&victim), &bytes[..2000]).unwrap();
    let err = write_repodata(&repo, &options).unwrap_err().to_string();
    assert!(err.contains(&victim), "{err}");
    assert_eq!(fs::read(&first.repomd).unwrap(), repomd);

    let err = write_repodata(&tmp.path().join("absent"), &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent"), "{err}");
}
