//! Building packages: real `rpm`, `rpm2cpio` and `cpio` read what we write.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use buildchain_rpm::build::{build_package, BuildContext, PackageDefinition};
use common::{build_all, entries, require_tool, run, sh, write_fixture};

fn installed_paths(def: &PackageDefinition) -> Vec<String> {
    let mut paths: Vec<String> = def
        .files
        .iter()
        .map(|f| f.dest.clone())
        .chain(def.directories.iter().map(|d| d.path.clone()))
        .chain(def.symlinks.iter().map(|s| s.path.clone()))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_built_package_passes_rpm_checks_and_extracts_to_its_sources() {
    for tool in ["rpm", "rpm2cpio", "cpio"] {
        require_tool(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let fixture = write_fixture(&tmp.path().join("fixture"));
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let built = build_all(&out, &fixture, Some(1_700_000_000));
    assert!(built.len() >= 4);
    for (def, rpm, root) in &built {
        let checked = run(Command::new("rpm").arg("-K").arg("--nosignature").arg(rpm));
        assert!(checked.contains("digests OK"), "{checked}");

        let listed = run(Command::new("rpm").arg("-qpl").arg(rpm));
        let mut listed: Vec<String> = listed.lines().map(str::to_string).collect();
        listed.sort();
        assert_eq!(listed, installed_paths(def), "rpm -qpl of {}", def.name);

        let nevra = run(Command::new("rpm")
            .args([
                "-qp",
                "--qf",
                "%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH} %{BUILDTIME} %{BUILDHOST}",
            ])
            .arg(rpm));
        let epoch = def.epoch.map(|e| e.to_string()).unwrap_or("(none)".into());
        assert_eq!(
            nevra,
            format!(
                "{} {epoch} {} {} {} 1700000000 buildchain",
                def.name, def.version, def.release, def.arch
            )
        );

        // Extraction equals the sources, with the modes of the definition.
        let extract = tmp.path().join(format!("extract-{}", def.name));
        fs::create_dir_all(&extract).unwrap();
        sh(&format!(
            "cd '{}' && rpm2cpio '{}' | cpio -idm --quiet",
            extract.display(),
            rpm.display()
        ));
        for file in &def.files {
            let got = extract.join(file.dest.trim_start_matches('/'));
            assert_eq!(
                fs::read(&got).unwrap(),
                fs::read(root.join(&file.source)).unwrap(),
                "{} in {}",
                file.dest,
                def.name
            );
            let mode = fs::metadata(&got).unwrap().permissions().mode() & 0o7777;
            assert_eq!(format!("{mode:04o}"), file.mode, "mode of {}", file.dest);
        }
        for link in &def.symlinks {
            let got = extract.join(link.path.trim_start_matches('/'));
            assert_eq!(fs::read_link(got).unwrap().to_str().unwrap(), link.target);
        }
    }
}

#[test]
fn markers_owners_dependencies_and_scriptlets_reach_the_header() {
    require_tool("rpm");
    let tmp = tempfile::tempdir().unwrap();
    let fixture = write_fixture(&tmp.path().join("fixture"));
    let def = PackageDefinition::load(&fixture.dirs[0]).unwrap();
    let context = BuildContext {
        repo_root: fixture.root.clone(),
        source_date_epoch: Some(1_700_000_000),
        signer: None,
    };
    let rpm = build_package(&def, &context, tmp.path()).unwrap();
    assert_eq!(
        rpm.file_name().unwrap(),
        "featureful-1.2.3-4.el8.x86_64.rpm"
    );
    let q = |args: &[&str]| run(Command::new("rpm").arg("-qp").args(args).arg(&rpm));

    assert_eq!(
        q(&["-c"]).lines().collect::<Vec<_>>(),
        ["/etc/featureful/defaults.conf", "/etc/featureful/tool.conf"]
    );
    assert_eq!(q(&["-d"]).trim(), "/usr/share/doc/featureful/README.md");
    let attrs = q(&[
        "--qf",
        "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]",
    ]);
    let attrs: BTreeMap<&str, &str> = attrs
        .lines()
        .map(|l| {
            let (rest, path) = l.rsplit_once(' ').unwrap();
            (path, rest)
        })
        .collect();
    assert_eq!(attrs["/etc/featureful/tool.conf"], "-rw-r----- root adm c");
    assert_eq!(
        attrs["/etc/featureful/defaults.conf"],
        "-rw-r--r-- root root cn"
    );
    assert_eq!(attrs["/var/lib/featureful"], "drwx------ nobody nobody ");
    assert_eq!(attrs["/usr/bin/featureful"], "-rwxr-xr-x root root ");
    assert_eq!(
        attrs["/usr/share/doc/featureful/README.md"],
        "-rw-r--r-- root root d"
    );
    assert!(attrs["/usr/bin/ftool"].starts_with("lrwxrwxrwx"));

    let requires = q(&["--requires"]);
    assert!(requires.contains("base-stub >= 1.0"), "{requires}");
    assert!(requires.lines().any(|l| l == "/bin/sh"), "{requires}");
    let provides = q(&["--provides"]);
    for p in [
        "tooling = 1.2",
        "featureful-compat",
        "featureful = 2:1.2.3-4.el8",
    ] {
        assert!(provides.contains(p), "{p} in {provides}");
    }
    assert!(q(&["--conflicts"]).contains("oldtool < 2"));
    assert!(q(&["--obsoletes"]).contains("tool-legacy <= 1.0-1"));
    let scripts = q(&["--scripts"]);
    for s in [
        "echo pre $1",
        "echo post $1",
        "echo preun $1",
        "echo postun $1",
    ] {
        assert!(scripts.contains(s), "{s} in {scripts}");
    }
    assert!(q(&["--qf", "%{PAYLOADCOMPRESSOR}"]).contains("zstd"));
    assert!(q(&["--qf", "%{SUMMARY}|%{LICENSE}|%{URL}|%{VENDOR}|%{PACKAGER}|%{GROUP}"])
        .starts_with("Exercises every field & marker|MIT|https://example.invalid/featureful|Example|Tests <tests@example.invalid>|System/Tools"));
}

#[test]
fn builds_are_reproducible_under_source_date_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = write_fixture(&tmp.path().join("fixture"));
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let first = build_all(&a, &fixture, Some(1_600_000_000));
    // Touch every source: newer mtimes are clamped to SOURCE_DATE_EPOCH.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for entry in fs::read_dir(fixture.root.join("files")).unwrap() {
        let path = entry.unwrap().path();
        let content = fs::read(&path).unwrap();
        fs::write(&path, content).unwrap();
    }
    let second = build_all(&b, &fixture, Some(1_600_000_000));
    for ((_, x, _), (_, y, _)) in first.iter().zip(&second) {
        assert_eq!(
            fs::read(x).unwrap(),
            fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
}

fn definition_error(toml: &str) -> String {
    PackageDefinition::parse(toml, Path::new("packages/bad/package.toml"))
        .unwrap_err()
        .to_string()
}

const HEAD: &str = r#"
name = "bad"
version = "1.0"
release = "1"
summary = "s"
description = "d"
license = "MIT"
"#;

#[test]
fn bad_definitions_are_refused_naming_the_file_and_rule() {
    let cases: &[(&str, &str)] = &[
        ("name = \"x\"\n", "invalid TOML"),
        (&format!("{HEAD}colour = \"red\"\n"), "unknown field `colour`"),
        (&HEAD.replace("1.0", "1-0"), "version '1-0' contains '-'"),
        (&HEAD.replace("\"bad\"", "\"../evil\""), "contains '/'"),
        (&format!("{HEAD}arch = \"sparc\"\n"), "arch 'sparc' is not one of"),
        (&format!("{HEAD}[[files]]\nsource = \"../etc/shadow\"\ndest = \"/x\"\n"), "must stay inside the repository"),
        (&format!("{HEAD}[[files]]\nsource = \"/etc/shadow\"\ndest = \"/x\"\n"), "must be relative to the repository root"),
        (&format!("{HEAD}[[files]]\nsource = \"a\"\ndest = \"relative\"\n"), "must be absolute"),
        (&format!("{HEAD}[[files]]\nsource = \"a\"\ndest = \"/usr/../etc/x\"\n"), "'..'"),
        (&format!("{HEAD}[[files]]\nsource = \"a\"\ndest = \"/x\"\n[[files]]\nsource = \"b\"\ndest = \"/x\"\n"), "listed more than once"),
        (&format!("{HEAD}[[files]]\nsource = \"a\"\ndest = \"/x\"\nmode = \"0999\"\n"), "not an octal permission"),
        (&format!("{HEAD}[[files]]\nsource = \"a\"\ndest = \"/x\"\nowner = \"Root;rm\"\n"), "not a valid user/group name"),
        (&format!("{HEAD}[[files]]\nsource = \"a\"\ndest = \"/x\"\ndoc = true\nconfig = true\n"), "either doc or config"),
        (&format!("{HEAD}requires = [\"sos>=4\"]\n"), "requires 'sos>=4'"),
        (&format!("{HEAD}requires = [\"sos >= x:1\"]\n"), "not a valid [epoch:]version"),
        (&format!("{HEAD}[scripts]\npost = \"  \"\n"), "scripts.post must not be empty"),
        (&HEAD.replace("summary = \"s\"", "summary = \"\""), "summary must not be empty"),
    ];
    for (toml, expected) in cases {
        let err = definition_error(toml);
        assert!(err.contains("packages/bad/package.toml"), "{err}");
        assert!(err.contains(expected), "expected '{expected}' in: {err}");
    }
    let err = PackageDefinition::load(Path::new("/nonexistent/pkg")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/pkg/package.toml"),
        "{err}"
    );
}

#[test]
fn a_missing_source_fails_naming_package_and_file_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let def = PackageDefinition::parse(
        &format!("{HEAD}[[files]]\nsource = \"files/absent.conf\"\ndest = \"/etc/absent.conf\"\n[[files]]\nsource = \"files\"\ndest = \"/etc/dir\"\n"),
        Path::new("package.toml"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let context = BuildContext {
        repo_root: tmp.path().to_path_buf(),
        source_date_epoch: None,
        signer: None,
    };
    let err = build_package(&def, &context, &out).unwrap_err().to_string();
    assert!(err.contains("package bad-1.0-1.noarch"), "{err}");
    assert!(err.contains("files/absent.conf"), "{err}");
    assert!(err.contains("cannot be read"), "{err}");
    assert!(entries(&out).is_empty(), "left behind: {:?}", entries(&out));

    fs::create_dir_all(tmp.path().join("files/absent.conf")).unwrap();
    let err = build_package(&def, &context, &out).unwrap_err().to_string();
    assert!(err.contains("is not a regular file"), "{err}");
    assert!(entries(&out).is_empty());
}

#[test]
fn the_shipped_definitions_name_their_inputs() {
    for dir in common::shipped_package_dirs() {
        let def = PackageDefinition::load(&dir).unwrap();
        let inputs = def.input_files(&common::repo_root());
        assert_eq!(inputs[0], dir.join("package.toml"));
        for input in &inputs {
            assert!(
                input.is_file(),
                "{} of {} is missing",
                input.display(),
                def.name
            );
        }
    }
}
