//! Shared helpers of the integration tests: real tools, fixtures, an nginx server.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use buildchain_rpm::build::{build_package, BuildContext, PackageDefinition};

/// Fails (never skips) when a tool the test needs is missing.
pub fn require_tool(tool: &str) {
    buildchain_testkit::require_tool(tool);
}

/// Runs a command, asserts success, returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn sh(script: &str) -> String {
    run(Command::new("sh").arg("-c").arg(script))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The package directories of the distribution (`packages/*/package.toml`).
pub fn shipped_package_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(repo_root().join("packages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("package.toml").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 2,
        "expected at least two packages under packages/"
    );
    dirs
}

/// A fixture "repository" with a package using every feature of the format, plus a stub
/// standing for the base OS (it provides what the shipped packages need from it).
pub struct Fixture {
    pub root: PathBuf,
    pub dirs: Vec<PathBuf>,
}

pub fn write_fixture(root: &Path) -> Fixture {
    let files = root.join("files");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("tool.sh"), "#!/bin/sh\necho tool\n").unwrap();
    fs::write(files.join("tool.conf"), "level = 3\n").unwrap();
    fs::write(files.join("defaults.conf"), "a = \"<&>\"\n").unwrap();
    fs::write(files.join("README.md"), "# Tool\n").unwrap();
    fs::write(files.join("sh"), "#!/bin/false\n").unwrap();

    let every = root.join("pkgs/featureful");
    fs::create_dir_all(&every).unwrap();
    fs::write(
        every.join("package.toml"),
        r#"
name = "featureful"
epoch = 2
version = "1.2.3"
release = "4.el8"
summary = "Exercises every field & marker"
description = """Every field of package.toml: <files>, directories, symlinks,
dependencies and scriptlets."""
license = "MIT"
arch = "x86_64"
url = "https://example.invalid/featureful"
vendor = "Example"
packager = "Tests <tests@example.invalid>"
group = "System/Tools"
compression = "zstd"
requires = ["base-stub >= 1.0", "/bin/sh"]
provides = ["tooling = 1.2", "featureful-compat"]
conflicts = ["oldtool < 2"]
obsoletes = ["tool-legacy <= 1.0-1"]

[[files]]
source = "files/tool.sh"
dest = "/usr/bin/featureful"
mode = "0755"

[[files]]
source = "files/tool.conf"
dest = "/etc/featureful/tool.conf"
mode = "0640"
owner = "root"
group = "adm"
config = true

[[files]]
source = "files/defaults.conf"
dest = "/etc/featureful/defaults.conf"
noreplace = true

[[files]]
source = "files/README.md"
dest = "/usr/share/doc/featureful/README.md"
doc = true

[[directories]]
path = "/etc/featureful"
mode = "0750"

[[directories]]
path = "/var/lib/featureful"
mode = "0700"
owner = "nobody"
group = "nobody"

[[symlinks]]
path = "/usr/bin/ftool"
target = "featureful"

[scripts]
pre = "echo pre $1"
post = "echo post $1"
preun = "echo preun $1"
postun = "echo postun $1"
"#,
    )
    .unwrap();

    let stub = root.join("pkgs/base-stub");
    fs::create_dir_all(&stub).unwrap();
    fs::write(
        stub.join("package.toml"),
        r#"
name = "base-stub"
version = "1.0"
release = "1"
summary = "Stands for the base OS in install tests"
description = "Provides what the packages under test need from the OS."
license = "MIT"
provides = ["sos = 4.5-1"]

[[files]]
source = "files/sh"
dest = "/bin/sh"
mode = "0755"
"#,
    )
    .unwrap();
    Fixture {
        root: root.to_path_buf(),
        dirs: vec![every, stub],
    }
}

/// Builds the shipped packages and the fixture into `out`; returns (definition, rpm path,
/// repository root of its sources).
pub fn build_all(
    out: &Path,
    fixture: &Fixture,
    source_date_epoch: Option<u64>,
) -> Vec<(PackageDefinition, PathBuf, PathBuf)> {
    let mut built = Vec::new();
    let sets = [
        (repo_root(), shipped_package_dirs()),
        (fixture.root.clone(), fixture.dirs.clone()),
    ];
    for (root, dirs) in sets {
        let context = BuildContext {
            repo_root: root.clone(),
            source_date_epoch,
            signer: None,
        };
        for dir in dirs {
            let def = PackageDefinition::load(&dir).unwrap();
            let rpm = build_package(&def, &context, out).unwrap();
            built.push((def, rpm, root.clone()));
        }
    }
    built
}

/// nginx (buildchain-testkit) serving `root` on 127.0.0.1, stopped on drop.
pub struct Nginx(buildchain_testkit::Nginx);

impl Nginx {
    pub fn serve(root: &Path, work: &Path) -> Nginx {
        fs::create_dir_all(work).unwrap();
        Nginx(buildchain_testkit::Nginx::start(
            work,
            &format!("root {};", root.display()),
        ))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.0.host())
    }
}

/// Lists a directory's entry names, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
