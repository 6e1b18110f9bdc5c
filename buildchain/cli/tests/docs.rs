//! Every command line shown in docs/ and the READMEs runs: each one found in a code block is
//! looked up in `EXAMPLES` (a documented line missing there fails, naming its file and
//! line, so docs and test move together) and its commands run, in order, in one scratch
//! copy of the repository with the built binaries first on PATH. Synopses (`[--all]`,
//! `DIR`) run in concrete forms; what needs a network, a VM or cargo names the test that
//! covers it instead.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// How a documented line is exercised.
enum Run {
    /// Shell commands (`sh -e`) run in the scratch copy; `$SCRATCH` is a scratch directory.
    Shell(&'static [&'static str]),
    /// Covered by another test, or not a command at all: why.
    Elsewhere(&'static str),
}

use Run::*;

/// Documented line (continuations joined, comment and extra spaces dropped) -> what runs.
/// In the order they run: the build first, `clean` last.
const EXAMPLES: &[(&str, Run)] = &[
    (
        "cargo run --release -p buildchain -- iso",
        Shell(&["buildchain iso", "test -f _build/metalk8s.iso"]),
    ),
    ("buildchain", Shell(&["buildchain"])),
    ("buildchain populate-iso", Shell(&["buildchain populate-iso"])),
    ("buildchain salt-tree images", Shell(&["buildchain salt-tree images"])),
    ("buildchain '_iso_add_tree:*'", Shell(&["buildchain '_iso_add_tree:*'"])),
    ("buildchain '_lint:*/salt/*'", Shell(&["buildchain '_lint:*/salt/*'"])),
    ("buildchain -n 4 iso", Shell(&["buildchain -n 4 iso"])),
    (
        "buildchain --reporter json iso",
        Shell(&["buildchain --reporter json iso | grep -q '\"event\"'"]),
    ),
    (
        "buildchain --build-root /tmp/b",
        Shell(&["buildchain --build-root \"$SCRATCH/b\"", "test -f \"$SCRATCH/b/metalk8s.iso\""]),
    ),
    ("buildchain --no-wait iso", Shell(&["buildchain --no-wait iso"])),
    ("buildchain -v iso", Shell(&["buildchain -v iso"])),
    ("buildchain -k iso", Shell(&["buildchain -k iso"])),
    (
        "checkisomd5 --verbose _build/metalk8s.iso",
        Shell(&["checkisomd5 --verbose _build/metalk8s.iso"]),
    ),
    (
        "sha256sum --check SHA256SUM",
        Shell(&["cd _build && sha256sum --check SHA256SUM"]),
    ),
    (
        "checkisomd5 --verbose metalk8s.iso",
        Shell(&["cd _build && checkisomd5 --verbose metalk8s.iso"]),
    ),
    (
        "buildchain list [--all] [--private]",
        Shell(&[
            "buildchain list",
            "buildchain list --all",
            "buildchain list --private",
            "buildchain list --all --private",
        ]),
    ),
    (
        "buildchain list --all --private",
        Shell(&["buildchain list --all --private | grep -q _iso_build"]),
    ),
    ("buildchain info TASK", Shell(&["buildchain info iso"])),
    ("buildchain info _iso_build", Shell(&["buildchain info _iso_build"])),
    (
        "buildchain info _iso_add_tree:product.txt",
        Shell(&["buildchain info _iso_add_tree:product.txt | grep -q 'status: up-to-date'"]),
    ),
    (
        "buildchain dedup DIR",
        Shell(&["buildchain dedup _build/root/images"]),
    ),
    (
        "buildchain build-rpm --out DIR PACKAGE_DIR…",
        Shell(&[
            "buildchain build-rpm --out \"$SCRATCH/rpms\" packages/metalk8s-release",
            "ls \"$SCRATCH\"/rpms/metalk8s-release-*.rpm",
        ]),
    ),
    (
        "buildchain repodata DIR",
        Shell(&[
            "buildchain repodata \"$SCRATCH/rpms\"",
            "test -f \"$SCRATCH/rpms/repodata/repomd.xml\"",
        ]),
    ),
    (
        "buildchain fetch-rpms --repo ID=URL [--base-repo ID=URL] [--gpg-key ID=KEY] [--arch A,…] --dest DIR PKG…",
        Shell(&[
            "buildchain fetch-rpms --repo local=file://$SCRATCH/rpms --dest \"$SCRATCH/fetched\" metalk8s-release",
            "ls \"$SCRATCH\"/fetched/metalk8s-release-*.rpm",
        ]),
    ),
    (
        "buildchain lock",
        Shell(&["buildchain lock", "grep -q '^version = 1' versions.lock"]),
    ),
    (
        "buildchain lock --update NAME",
        Elsewhere("tests/lock.rs, against a real docker-registry"),
    ),
    ("buildchain --locked iso", Shell(&["buildchain --locked iso"])),
    (
        "buildchain pull [--insecure] [--platform OS/ARCH]… [--all] [--force] REF DEST_DIR",
        Elsewhere("tests/images.rs and tests/multiarch.rs pull from a real docker-registry on 127.0.0.1"),
    ),
    (
        "buildchain --cache oci://registry.example.com:5000/buildchain/metalk8s iso",
        Elsewhere("tests/cache.rs, against a real docker-registry on 127.0.0.1"),
    ),
    (
        "buildchain --cache oci://registry.example.com:5000/buildchain/metalk8s --cache-mode read iso",
        Elsewhere("tests/cache.rs, against a real docker-registry on 127.0.0.1"),
    ),
    (
        "buildchain --cache oci://HOST/REPO cache stats",
        Elsewhere("tests/cache.rs, against a real docker-registry on 127.0.0.1"),
    ),
    (
        "buildchain --cache oci://HOST/REPO cache prune --older-than 30d [--dry-run]",
        Elsewhere("tests/cache.rs, against a real docker-registry on 127.0.0.1"),
    ),
    (
        "buildchain verify ISO [--key KEY]",
        Shell(&["buildchain verify _build/metalk8s.iso"]),
    ),
    (
        "buildchain iso --delta-from OLD.iso",
        Shell(&[
            "cp _build/metalk8s.iso \"$SCRATCH/old.iso\"",
            "buildchain iso --delta-from \"$SCRATCH/old.iso\"",
            "ls _build/delta/*.delta.iso",
        ]),
    ),
    (
        "buildchain diff OLD NEW [--format json] [--exit-code]",
        Shell(&["buildchain diff \"$SCRATCH/old.iso\" _build/metalk8s.iso --format json --exit-code | grep -q new_content"]),
    ),
    (
        "buildchain diff metalk8s-0.1.0.iso _build/metalk8s.iso",
        Shell(&["buildchain diff \"$SCRATCH/old.iso\" _build/metalk8s.iso | grep -q 'no change'"]),
    ),
    (
        "buildchain vagrant-up",
        Elsewhere("tests/vagrant.rs, with a VAGRANT_BIN that records its calls"),
    ),
    (
        "buildchain vagrant-restore",
        Elsewhere("tests/vagrant.rs, with a VAGRANT_BIN that records its calls"),
    ),
    (
        "buildchain (cli) the binary: glue, configuration, tasks",
        Elsewhere("docs/architecture.md: a line of the crate map, not a command"),
    ),
    // Registry configuration of the distribution.
    (
        "static-container-registry [--name-prefix PREFIX] [--server-root PATH]",
        Shell(&["static-container-registry --name-prefix p/ --server-root /srv _build/root/images | grep -q 'location'"]),
    ),
    (
        "static-container-registry --only-constants > metalk8s-registry-common.inc",
        Shell(&["static-container-registry --only-constants > metalk8s-registry-common.inc"]),
    ),
    (
        "static-container-registry --name-prefix metalk8s-2.0.0/ --server-root '$metalk8s_2_0_0_images' --omit-constants _build/root/images > metalk8s-registry.inc",
        Shell(&["static-container-registry --name-prefix metalk8s-2.0.0/ --server-root '$metalk8s_2_0_0_images' --omit-constants _build/root/images > metalk8s-registry.inc"]),
    ),
    // The example Solution: its image built by buildchain, then the documented steps.
    (
        "mkiso -output example-1.0.0.iso -R -J -joliet-long -l -V 'Example Solution 1.0.0' -iso-level 3 -gid 0 -uid 0 -input-charset utf-8 -output-charset utf-8 --implantisomd5 solution-root/",
        Shell(&[
            "printf '\\n[[images]]\\nname = \"example-operator\"\\nversion = \"1.0.0\"\\nsource = \"build\"\\n' >> versions.toml",
            "buildchain images",
            "cp -r examples/solution solution-root",
            "mkdir -p solution-root/images && cp -a _build/root/images/example-operator solution-root/images/",
            "buildchain dedup solution-root/images",
            "static-container-registry --name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants solution-root/images > solution-root/registry-config.inc.j2",
            "mkiso -output example-1.0.0.iso -R -J -joliet-long -l -V 'Example Solution 1.0.0' -iso-level 3 -gid 0 -uid 0 -input-charset utf-8 -output-charset utf-8 --implantisomd5 solution-root/",
        ]),
    ),
    (
        "static-container-registry --name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants solution-root/images > solution-root/registry-config.inc.j2",
        Shell(&["grep -q '{{ registry_root }}' solution-root/registry-config.inc.j2"]),
    ),
    (
        "static-container-registry --name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants solution-root/images > registry-config.inc.j2",
        Shell(&["static-container-registry --name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants solution-root/images > registry-config.inc.j2"]),
    ),
    (
        "solution-archive validate example-1.0.0.iso",
        Shell(&["solution-archive validate example-1.0.0.iso"]),
    ),
    (
        "solution-archive validate solution-root/ --format json",
        Shell(&["solution-archive validate solution-root/ --format json | grep -q '\"valid\": *true'"]),
    ),
    (
        "solution-archive validate PATH [--format text|json]",
        Shell(&[
            "solution-archive validate example-1.0.0.iso --format text",
            "solution-archive validate solution-root --format json > /dev/null",
        ]),
    ),
    (
        "solution-archive build DIR -o OUT.iso [--format text|json]",
        Shell(&[
            "solution-archive build solution-root -o \"$SCRATCH/built.iso\"",
            "solution-archive build solution-root -o \"$SCRATCH/built2.iso\" --format json > /dev/null",
            "solution-archive validate \"$SCRATCH/built.iso\"",
        ]),
    ),
    ("solution-archive rules", Shell(&["solution-archive rules | grep -q ."])),
    // Last: what clean removes.
    (
        "buildchain clean --dry-run images",
        Shell(&["buildchain clean --dry-run images", "test -d _build/root/images"]),
    ),
    (
        "buildchain clean [--dry-run] [TASK…]",
        Shell(&[
            "buildchain clean --dry-run",
            "buildchain clean images",
            "test ! -e _build/root/images/metalk8s-utils",
            "buildchain clean",
            "test ! -e _build/metalk8s.iso",
        ]),
    ),
];

/// The command names whose lines in code blocks are documented commands.
const TOOLS: &[&str] = &[
    "buildchain",
    "cargo run",
    "checkisomd5",
    "sha256sum",
    "mkiso",
    "isomd5",
    "solution-archive",
    "static-container-registry",
];

/// Where commands are documented.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        root.join("README.md"),
        root.join("static-registry/README.md"),
    ];
    for dir in ["docs", "buildchain"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if dir == "docs" && path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            } else if path.join("README.md").is_file() {
                files.push(path.join("README.md"));
            }
        }
    }
    files.sort();
    files
}

/// A shell line without its trailing comment (a `#` after a blank, outside quotes) and
/// with runs of blanks made one.
fn normalize(line: &str) -> String {
    let mut out = String::new();
    let (mut single, mut double, mut prev_blank) = (false, false, true);
    for c in line.chars() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_blank => break,
            _ => {}
        }
        prev_blank = c.is_whitespace();
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every documented command line: (file:line, normalized command).
fn documented(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for file in documents(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let (mut in_block, mut pending): (bool, Option<(usize, String)>) = (false, None);
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if !in_block {
                continue;
            }
            if let Some((at, mut acc)) = pending.take() {
                acc.push(' ');
                acc.push_str(line.trim_end_matches('\\'));
                if line.ends_with('\\') {
                    pending = Some((at, acc));
                } else {
                    found.push((format!("{shown}:{at}"), normalize(&acc)));
                }
                continue;
            }
            let line = line.strip_prefix("$ ").unwrap_or(line);
            let is_command = TOOLS
                .iter()
                .any(|t| line == *t || line.starts_with(&format!("{t} ")));
            if !is_command {
                continue;
            }
            if line.ends_with('\\') {
                pending = Some((i + 1, line.trim_end_matches('\\').to_string()));
            } else {
                found.push((format!("{shown}:{}", i + 1), normalize(line)));
            }
        }
    }
    found
}

#[test]
fn every_documented_command_runs() {
    for tool in ["checkisomd5", "sha256sum", "shellcheck"] {
        need(tool);
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_buildchain"))
        .parent()
        .unwrap()
        .to_path_buf();
    for bin in ["mkiso", "solution-archive", "static-container-registry"] {
        assert!(
            bin_dir.join(bin).is_file(),
            "{} is not built: run `cargo build --release --workspace --bins` \
             (ci/test.sh builds every binary)",
            bin_dir.join(bin).display()
        );
    }

    // Every documented line has an entry, and every entry is still documented.
    let known: BTreeMap<&str, &Run> = EXAMPLES.iter().map(|(d, r)| (*d, r)).collect();
    let found = documented(&repo_root());
    let missing: Vec<String> = found
        .iter()
        .filter(|(_, cmd)| !known.contains_key(cmd.as_str()))
        .map(|(at, cmd)| format!("  {at}: {cmd}"))
        .collect();
    assert!(
        missing.is_empty(),
        "documented commands without an entry in tests/docs.rs EXAMPLES:\n{}",
        missing.join("\n")
    );
    let stale: Vec<&str> = EXAMPLES
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| !found.iter().any(|(_, cmd)| cmd == d))
        .collect();
    assert!(
        stale.is_empty(),
        "EXAMPLES entries no longer documented: {stale:?}"
    );

    let repo = Repo::copy();
    let scratch = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (documented, run) in EXAMPLES {
        let commands = match run {
            Shell(commands) => commands,
            Elsewhere(why) => {
                assert!(!why.is_empty(), "`{documented}`: say where it is covered");
                continue;
            }
        };
        for command in *commands {
            let out = Command::new("sh")
                .args(["-ec", command])
                .current_dir(repo.path())
                .env("PATH", &path)
                .env("SCRATCH", scratch.path())
                .env("SOURCE_DATE_EPOCH", EPOCH)
                .env("BUILD_HOST", "builder")
                .env_remove("BUILD_ROOT")
                .env_remove("PROJECT_NAME")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "documented `{documented}`: `{command}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
                out.status,
                stdout(&out),
                stderr(&out)
            );
        }
    }
}
