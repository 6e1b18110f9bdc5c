//! Fetching from yum repositories made by `rpmbuild` + `createrepo_c`, served by nginx.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use buildchain_rpm::build::{build_package, BuildContext, PackageDefinition};
use buildchain_rpm::fetch::{fetch_packages, FetchOptions, PackageRequest, Repository};
use buildchain_rpm::RpmError;
use buildchain_testkit::free_port;
use common::{entries, require_tool, run, Nginx};
use sha2::{Digest, Sha256};

type Spec = buildchain_testkit::FixtureRpm;

const MAIN: &[Spec] = &[
    Spec {
        name: "app",
        version: "1.0",
        file: "/usr/share/app/v1.0",
        provides: &[],
        requires: &["webserver >= 2", "/usr/bin/helper"],
    },
    Spec {
        name: "app",
        version: "1.1",
        file: "/usr/share/app/v1.1",
        provides: &[],
        requires: &["webserver >= 2", "/usr/bin/helper"],
    },
    Spec {
        name: "nginx-lite",
        version: "2.1",
        file: "/usr/share/nginx-lite/README",
        provides: &["webserver = 2.1"],
        requires: &["libfoo >= 1.1"],
    },
    Spec {
        name: "oldweb",
        version: "1.0",
        file: "/usr/share/oldweb/README",
        provides: &["webserver = 1.0"],
        requires: &[],
    },
    Spec {
        name: "helper",
        version: "1.0",
        file: "/usr/bin/helper",
        provides: &[],
        requires: &[],
    },
    Spec {
        name: "broken",
        version: "1.0",
        file: "/usr/share/broken/README",
        provides: &[],
        requires: &["does-not-exist >= 3"],
    },
];
const BASE: &[Spec] = &[
    Spec {
        name: "libfoo",
        version: "1.0",
        file: "/usr/lib/libfoo.so.1.0",
        provides: &[],
        requires: &[],
    },
    Spec {
        name: "libfoo",
        version: "1.2",
        file: "/usr/lib/libfoo.so.1.2",
        provides: &[],
        requires: &[],
    },
];

use buildchain_testkit::rpmbuild;

/// The served tree: main/ and base/ (createrepo_c), corrupt/ (main with a damaged
/// package), truncated/, zstd/ (zstd-compressed metadata), and hostile metadata.
struct Served {
    root: PathBuf,
    _tmp: tempfile::TempDir,
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        for tool in ["rpmbuild", "createrepo_c", "nginx"] {
            require_tool(tool);
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("www");
        let work = tmp.path().join("work");
        fs::create_dir_all(&work).unwrap();
        for (repo, specs) in [("main", MAIN), ("base", BASE)] {
            let dir = root.join(repo);
            fs::create_dir_all(dir.join("Packages")).unwrap();
            for spec in specs {
                rpmbuild(spec, &work, &dir.join("Packages"));
            }
        }
        // An aarch64-only package, built with our own builder.
        let archy = work.join("archy");
        fs::create_dir_all(&archy).unwrap();
        fs::write(archy.join("package.toml"), "name = \"archy\"\nversion = \"1\"\nrelease = \"1\"\nsummary = \"s\"\ndescription = \"d\"\nlicense = \"MIT\"\narch = \"aarch64\"\n").unwrap();
        let def = PackageDefinition::load(&archy).unwrap();
        build_package(&def, &BuildContext { repo_root: work.clone(), source_date_epoch: None , signer: None}, &root.join("main/Packages")).unwrap();
        for repo in ["main", "base"] {
            run(Command::new("createrepo_c").args(["-q", "--no-database"]).arg(root.join(repo)));
        }
        run(Command::new("cp").arg("-a").arg(root.join("main")).arg(root.join("corrupt")));
        run(Command::new("cp").arg("-a").arg(root.join("main")).arg(root.join("truncated")));
        let helper = "Packages/helper-1.0-1.noarch.rpm";
        let mut bytes = fs::read(root.join("corrupt").join(helper)).unwrap();
        let middle = bytes.len() - 10;
        bytes[middle] ^= 0xff;
        fs::write(root.join("corrupt").join(helper), &bytes).unwrap();
        fs::write(root.join("truncated").join(helper), &bytes[..bytes.len() / 2]).unwrap();

        let zstd = root.join("zstd");
        run(Command::new("cp").arg("-a").arg(root.join("main")).arg(&zstd));
        // Debian's createrepo_c cannot write zstd: recompress its primary.xml.gz.
        let gz = entries(&zstd.join("repodata")).into_iter().find(|n| n.ends_with("primary.xml.gz")).unwrap();
        let mut xml = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(fs::File::open(zstd.join("repodata").join(gz)).unwrap()), &mut xml).unwrap();
        fs::remove_dir_all(zstd.join("repodata")).unwrap();
        let compressed = zstd::encode_all(&xml[..], 3).unwrap();
        hostile_repo(&root, "zstd", &repomd_for("primary.xml.zst", &compressed), &[("primary.xml.zst", &compressed)]);

        write_hostile(&root);
        fs::write(root.join("key.asc"), "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF...\n-----END PGP PUBLIC KEY BLOCK-----\n").unwrap();
        fs::write(root.join("not-a-key.txt"), "<html>404</html>\n").unwrap();
        Served { root, _tmp: tmp }
    })
}

fn repomd_for(primary_name: &str, primary: &[u8]) -> String {
    let sum: String = Sha256::digest(primary)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>\
         <data type=\"primary\"><checksum type=\"sha256\">{sum}</checksum><location href=\"repodata/{primary_name}\"/>\
         <size>{}</size></data></repomd>\n",
        primary.len()
    )
}

fn hostile_repo(root: &Path, name: &str, repomd: &str, files: &[(&str, &[u8])]) {
    let dir = root.join(name).join("repodata");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("repomd.xml"), repomd).unwrap();
    for (file, bytes) in files {
        fs::write(dir.join(file), bytes).unwrap();
    }
}

fn write_hostile(root: &Path) {
    hostile_repo(
        root,
        "garbage",
        "<repomd><data type=\"primary\"><checksum",
        &[],
    );
    hostile_repo(root, "noroot", "<html><body>not found</body></html>", &[]);
    let truncated =
        b"<?xml version=\"1.0\"?>\n<metadata packages=\"1\"><package type=\"rpm\"><name>app</name>";
    hostile_repo(
        root,
        "cutprimary",
        &repomd_for("primary.xml", truncated),
        &[("primary.xml", truncated)],
    );
    let lying = b"<metadata packages=\"0\"></metadata>";
    let sum: String = Sha256::digest(b"something else")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let real: String = Sha256::digest(lying)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fixed = repomd_for("primary.xml", lying).replace(&real, &sum);
    hostile_repo(root, "lyingsum", &fixed, &[("primary.xml", lying)]);
    let traversal = br#"<metadata packages="1"><package type="rpm"><name>app</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/><checksum type="sha256" pkgid="YES">0000000000000000000000000000000000000000000000000000000000000000</checksum><location href="../../etc/evil.rpm"/></package></metadata>"#;
    hostile_repo(
        root,
        "traversal",
        &repomd_for("primary.xml", traversal),
        &[("primary.xml", traversal)],
    );
}

fn options() -> FetchOptions {
    FetchOptions {
        http: buildchain_http::Config {
            retry: buildchain_http::Retry {
                retries: 1,
                backoff: Duration::from_millis(50),
            },
            stall_timeout: Duration::from_secs(30),
            ..Default::default()
        },
        ..FetchOptions::default()
    }
}

fn request(text: &str) -> PackageRequest {
    PackageRequest::parse(text).unwrap()
}

fn file_names(dir: &Path) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter(|n| n != "repodata")
        .collect()
}

fn assert_nothing_left(dest: &Path) {
    assert!(
        file_names(dest).is_empty(),
        "left behind in dest: {:?}",
        entries(dest)
    );
}

fn fetch_error(nginx: &Nginx, repos: &[(&str, &str)], requests: &[&str], dest: &Path) -> String {
    let repos: Vec<Repository> = repos
        .iter()
        .map(|(id, path)| Repository::new(*id, nginx.url(path)))
        .collect();
    let requests: Vec<PackageRequest> = requests.iter().map(|r| request(r)).collect();
    let err: RpmError = fetch_packages(&repos, &requests, dest, &options()).unwrap_err();
    assert_nothing_left(dest);
    err.to_string()
}

#[test]
fn resolves_transitively_through_a_virtual_provide_and_picks_the_newest() {
    let served = served();
    let nginx = Nginx::serve(
        &served.root,
        &served
            .root
            .parent()
            .unwrap()
            .join(format!("nginx-{}", free_port())),
    );
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let mut main = Repository::new("main", nginx.url("main"));
    main.gpg_keys = vec![
        served.root.join("key.asc").display().to_string(),
        nginx.url("key.asc"),
    ];
    let base = Repository::new("base", nginx.url("base/"));
    let report = fetch_packages(
        &[main.clone(), base.clone()],
        &[request("app")],
        &dest,
        &options(),
    )
    .unwrap();
    let mut nevras: Vec<&str> = report.packages.iter().map(|p| p.nevra.as_str()).collect();
    nevras.sort();
    assert_eq!(
        nevras,
        [
            "app-1.1-1.noarch",
            "helper-1.0-1.noarch",
            "libfoo-1.2-1.noarch",
            "nginx-lite-2.1-1.noarch"
        ]
    );
    assert_eq!(
        file_names(&dest),
        [
            "RPM-GPG-KEY-main",
            "RPM-GPG-KEY-main-2",
            "app-1.1-1.noarch.rpm",
            "helper-1.0-1.noarch.rpm",
            "libfoo-1.2-1.noarch.rpm",
            "nginx-lite-2.1-1.noarch.rpm"
        ]
    );
    for p in &report.packages {
        let source = served
            .root
            .join(if p.repository == "base" {
                "base"
            } else {
                "main"
            })
            .join("Packages")
            .join(p.path.file_name().unwrap());
        assert_eq!(fs::read(&p.path).unwrap(), fs::read(source).unwrap());
    }
    assert_eq!(report.repodata.packages, 4);
    // dnf reads the destination's repodata.
    require_tool("dnf");
    let listed = run(Command::new("dnf")
        .args([
            "-q",
            "--setopt=reposdir=/dev/null",
            "--releasever=8",
            "--disablerepo=*",
            "--enablerepo=d",
            "repoquery",
            "--qf",
            "%{name}-%{version}",
            "*",
        ])
        .arg(format!(
            "--setopt=cachedir={}",
            tmp.path().join("cache").display()
        ))
        .arg(format!("--repofrompath=d,file://{}", dest.display())));
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(
        listed,
        ["app-1.1", "helper-1.0", "libfoo-1.2", "nginx-lite-2.1"]
    );

    // A pin, a resolve-only repository, zstd metadata.
    let dest2 = tmp.path().join("dest2");
    let mut base_only = base.clone();
    base_only.download = false;
    let zstd = Repository::new("main", nginx.url("zstd"));
    let report = fetch_packages(
        &[zstd, base_only],
        &[request("app=1.0-1")],
        &dest2,
        &options(),
    )
    .unwrap();
    let mut nevras: Vec<&str> = report.packages.iter().map(|p| p.nevra.as_str()).collect();
    nevras.sort();
    assert_eq!(
        nevras,
        [
            "app-1.0-1.noarch",
            "helper-1.0-1.noarch",
            "nginx-lite-2.1-1.noarch"
        ]
    );
    assert_eq!(report.not_downloaded, ["libfoo-1.2-1.noarch"]);

    // Same thing through file:// .
    let dest3 = tmp.path().join("dest3");
    let local = Repository::new(
        "main",
        format!("file://{}", served.root.join("main").display()),
    );
    let local_base = Repository::new(
        "base",
        format!("file://{}", served.root.join("base").display()),
    );
    let report = fetch_packages(
        &[local, local_base],
        &[request("helper"), request("libfoo=1.0")],
        &dest3,
        &options(),
    )
    .unwrap();
    let nevras: Vec<&str> = report.packages.iter().map(|p| p.nevra.as_str()).collect();
    assert_eq!(nevras, ["helper-1.0-1.noarch", "libfoo-1.0-1.noarch"]);
}

#[test]
fn bad_repositories_and_requests_fail_clearly_and_leave_nothing() {
    let served = served();
    let nginx = Nginx::serve(
        &served.root,
        &served
            .root
            .parent()
            .unwrap()
            .join(format!("nginx-{}", free_port())),
    );
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let both = [("main", "main"), ("base", "base")];

    let err = fetch_error(&nginx, &both, &["broken"], &dest);
    assert!(
        err.contains("package broken-1.0-1.noarch")
            && err.contains("does-not-exist >= 3")
            && err.contains("not provided"),
        "{err}"
    );

    let err = fetch_error(&nginx, &[("main", "main")], &["app"], &dest);
    assert!(
        err.contains("nginx-lite-2.1-1.noarch") && err.contains("libfoo >= 1.1"),
        "{err}"
    );

    let err = fetch_error(&nginx, &both, &["archy"], &dest);
    assert!(
        err.contains("package archy: not found") && err.contains("x86_64,noarch"),
        "{err}"
    );

    let err = fetch_error(&nginx, &both, &["app=9.9"], &dest);
    assert!(
        err.contains("app=9.9") && err.contains("available: 1.0-1, 1.1-1"),
        "{err}"
    );

    let err = fetch_error(
        &nginx,
        &[("main", "corrupt"), ("base", "base")],
        &["app"],
        &dest,
    );
    assert!(
        err.contains("package helper-1.0-1.noarch") && err.contains("sha256 checksum mismatch"),
        "{err}"
    );

    let err = fetch_error(
        &nginx,
        &[("main", "truncated"), ("base", "base")],
        &["app"],
        &dest,
    );
    assert!(
        err.contains("helper-1.0-1.noarch.rpm")
            && err.contains("truncated")
            && err.contains("after 2 attempts"),
        "{err}"
    );

    let err = fetch_error(
        &nginx,
        &[("main", "absent"), ("base", "base")],
        &["app"],
        &dest,
    );
    assert!(
        err.contains("repository main") && err.contains("404"),
        "{err}"
    );

    let err = fetch_error(&nginx, &[("main", "garbage")], &["app"], &dest);
    assert!(
        err.contains("repository main: repodata/repomd.xml") && err.contains("malformed XML"),
        "{err}"
    );
    let err = fetch_error(&nginx, &[("main", "noroot")], &["app"], &dest);
    assert!(err.contains("no <repomd> element"), "{err}");
    let err = fetch_error(&nginx, &[("main", "cutprimary")], &["app"], &dest);
    assert!(
        err.contains("repodata/primary.xml")
            && (err.contains("malformed XML") || err.contains("truncated")),
        "{err}"
    );
    let err = fetch_error(&nginx, &[("main", "lyingsum")], &["app"], &dest);
    assert!(
        err.contains("checksum mismatch: repomd.xml announces"),
        "{err}"
    );
    let err = fetch_error(&nginx, &[("main", "traversal")], &["app"], &dest);
    assert!(
        err.contains("location '../../etc/evil.rpm'") && err.contains("must not contain '..'"),
        "{err}"
    );

    // A repository that is down.
    let down = Repository::new("down", format!("http://127.0.0.1:{}/repo", free_port()));
    let err = fetch_packages(&[down], &[request("app")], &dest, &options())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("repository down: GET http://127.0.0.1:") && err.contains("after 2 attempts"),
        "{err}"
    );
    assert_nothing_left(&dest);

    // A GPG key that is not one.
    let mut main = Repository::new("main", nginx.url("main"));
    main.gpg_keys = vec![nginx.url("not-a-key.txt")];
    let err = fetch_packages(
        &[main, Repository::new("base", nginx.url("base"))],
        &[request("helper")],
        &dest,
        &options(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("not an ASCII-armored public key block"),
        "{err}"
    );
    assert_nothing_left(&dest);

    // Options.
    for (repos, expected) in [
        (
            vec![Repository::new("../x", nginx.url("main"))],
            "repository id '../x'",
        ),
        (
            vec![Repository::new("m", "ftp://example.invalid/")],
            "neither http(s):// nor file://",
        ),
        (vec![], "no repository given"),
    ] {
        let err = fetch_packages(&repos, &[request("app")], &dest, &options())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
    assert!(PackageRequest::parse("app=1:").is_err());
    assert!(PackageRequest::parse("a b").is_err());
}

#[test]
fn what_a_killed_fetch_replaced_is_put_back_by_the_next() {
    let served = served();
    let root = served.root.parent().unwrap();
    let nginx = Nginx::serve(&served.root, &root.join(format!("nginx-{}", free_port())));
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let main = Repository::new("main", nginx.url("main"));
    let base = Repository::new("base", nginx.url("base"));
    fetch_packages(&[main, base], &[request("helper")], &dest, &options()).unwrap();
    let helper = dest.join("helper-1.0-1.noarch.rpm");
    let original = fs::read(&helper).unwrap();

    // A fetch killed inside its transaction: helper replaced by another file, the
    // original kept aside in its staging directory, whose process is gone.
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let staging = dest.join(format!(".fetch.tmp-{}-0", child.id()));
    fs::create_dir_all(staging.join(".old")).unwrap();
    fs::hard_link(&helper, staging.join(".old/helper-1.0-1.noarch.rpm")).unwrap();
    let replacement = dest.join(".replacement");
    fs::write(&replacement, b"what the killed run moved in").unwrap();
    fs::rename(&replacement, &helper).unwrap();

    // The next fetch fails (a corrupt download), after having put helper back.
    let corrupt = Repository::new("main", nginx.url("corrupt"));
    let base = Repository::new("base", nginx.url("base"));
    let err =
        fetch_packages(&[corrupt, base], &[request("helper")], &dest, &options()).unwrap_err();
    assert!(matches!(err, RpmError::Corrupted { .. }), "{err}");
    assert_eq!(fs::read(&helper).unwrap(), original);
    assert!(
        !staging.exists(),
        "the killed run's staging directory is left"
    );
    let leftovers: Vec<String> = entries(&dest)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
