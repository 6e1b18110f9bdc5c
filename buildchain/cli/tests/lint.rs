//! `buildchain lint` on a copy of the repository's distribution (with `ci/`), with the
//! real shellcheck and the real Salt: passes as committed, fails naming the file on a
//! duplicate YAML key, a shell syntax error, a broken state or pillar, a wrong state
//! argument, requisite or source, and re-lints only what changed.

mod common;

use std::fs;
use std::process::Command;

use common::*;

/// A copy of the distribution, plus `ci/` (its scripts are linted too).
fn repo_with_ci() -> Repo {
    need("shellcheck");
    need_salt();
    let repo = Repo::copy();
    let status = Command::new("cp")
        .arg("-a")
        .arg(repo_root().join("ci"))
        .arg(repo.path())
        .status()
        .unwrap();
    assert!(status.success());
    repo
}

fn fails(out: &std::process::Output, wanted: &[&str]) -> String {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected a failure:\nstdout:\n{}\nstderr:\n{err}",
        stdout(out)
    );
    for w in wanted {
        assert!(err.contains(w), "{w:?} not in stderr:\n{err}");
    }
    err
}

#[test]
fn lint_passes_on_the_repository_and_relints_only_what_changed() {
    let repo = repo_with_ci();
    let out = ok(&repo.run(&["lint"], &[]));
    let ran = with_status(&out, "SUCCESS");
    for task in [
        "_lint:yaml/examples/bootstrap.yaml",
        "_lint:shell/ci/test.sh",
        "_lint:shell/iso/bootstrap.sh.in",
        "_lint:shell/iso/common.sh.in",
        "lint:yaml",
        "lint:sls",
        "lint:shell",
    ] {
        assert!(ran.iter().any(|t| t == task), "{task} did not run:\n{out}");
    }
    // The crates' fixtures are not part of the distribution's YAML.
    assert!(!out.contains("_lint:yaml/buildchain/"), "{out}");

    // Nothing changed: nothing is linted again.
    let out = ok(&repo.run(&["lint"], &[]));
    assert_eq!(with_status(&out, "STARTED"), Vec::<String>::new(), "{out}");
    assert!(
        with_status(&out, "SKIPPED").contains(&"_lint:shell/iso/solutions.sh.in".to_string()),
        "{out}"
    );

    // Another commit, build time or host changes no finding: nothing is linted again
    // (the template lints pin those values).
    let out = ok(&repo.run(
        &["lint"],
        &[
            ("BUILD_HOST", "another-host"),
            ("SOURCE_DATE_EPOCH", "1234567890"),
        ],
    ));
    assert_eq!(with_status(&out, "STARTED"), Vec::<String>::new(), "{out}");

    // One file changed: only its task runs.
    let yaml = repo.path().join("examples/bootstrap.yaml");
    let text = fs::read_to_string(&yaml).unwrap();
    fs::write(&yaml, format!("{text}# edited\n")).unwrap();
    let out = ok(&repo.run(&["lint"], &[]));
    assert_eq!(
        with_status(&out, "STARTED"),
        vec!["_lint:yaml/examples/bootstrap.yaml".to_string()],
        "{out}"
    );

    // A sourced template changes the findings of those sourcing it.
    let common_sh = repo.path().join("iso/common.sh.in");
    let text = fs::read_to_string(&common_sh).unwrap();
    fs::write(&common_sh, format!("{text}# edited\n")).unwrap();
    let out = ok(&repo.run(&["lint:shell"], &[]));
    let started = with_status(&out, "STARTED");
    assert!(
        started.contains(&"_lint:shell/iso/common.sh.in".to_string())
            && started.contains(&"_lint:shell/iso/bootstrap.sh.in".to_string())
            && !started.iter().any(|t| t.starts_with("_lint:shell/ci/")),
        "{out}"
    );

    // The template context (VERSION) re-lints the templates and the states (the Salt
    // environment is named after it), not the plain scripts and YAML files.
    let version = repo.path().join("VERSION");
    let text = fs::read_to_string(&version).unwrap();
    fs::write(&version, text.replace("VERSION_PATCH=0", "VERSION_PATCH=7")).unwrap();
    let out = ok(&repo.run(&["lint"], &[]));
    let started = with_status(&out, "STARTED");
    assert!(
        started.contains(&"_lint:shell/iso/restore.sh.in".to_string())
            && started.contains(&"lint:sls".to_string())
            && !started.iter().any(|t| t.starts_with("_lint:yaml/"))
            && !started.iter().any(|t| t.starts_with("_lint:shell/ci/")),
        "{out}"
    );

    // Another shellcheck is another lint: a missing one is an error, never a pass.
    let out = repo.run(&["lint:shell"], &[("SHELLCHECK_BIN", "/nonexistent")]);
    fails(
        &out,
        &["/nonexistent", "SHELLCHECK_BIN", "cannot run shellcheck"],
    );
    let out = repo.run(&["lint"], &[("SHELLCHECK_BIN", "/nonexistent")]);
    fails(&out, &["/nonexistent"]);
}

/// `lint` and the given sub-task both fail, naming `file:line`.
fn lint_fails(repo: &Repo, task: &str, wanted: &[&str]) {
    for args in [&["lint"][..], &[task][..]] {
        let out = repo.run(args, &[]);
        fails(&out, wanted);
        assert!(stdout(&out).contains("FAILED"), "{}", stdout(&out));
    }
}

#[test]
fn duplicate_yaml_key_fails_naming_the_file() {
    let repo = repo_with_ci();
    fs::write(
        repo.path().join("examples/broken.yaml"),
        "apiVersion: v1\nkind: Broken\napiVersion: v2\n",
    )
    .unwrap();
    lint_fails(
        &repo,
        "lint:yaml",
        &["examples/broken.yaml:3:1: ", "key-duplicates"],
    );
}

#[test]
fn shell_syntax_error_fails_naming_the_file() {
    let repo = repo_with_ci();
    fs::write(
        repo.path().join("ci/broken.sh"),
        "#!/bin/bash\nif true; then\n  echo broken\n",
    )
    .unwrap();
    lint_fails(&repo, "lint:shell", &["ci/broken.sh:", "error", "[SC"]);
    fs::remove_file(repo.path().join("ci/broken.sh")).unwrap();

    // In a template: reported against the template, at its line.
    fs::write(
        repo.path().join("iso/broken.sh.in"),
        "#!/bin/bash\necho {{version}}\nfi\n",
    )
    .unwrap();
    lint_fails(&repo, "lint:shell", &["iso/broken.sh.in:3:", "[SC"]);
}

/// Real Salt renders the states and the pillar; what it would only find when applying
/// them (a misspelt argument, a requisite naming nothing, a missing `salt://` source) is
/// found on its rendering, at the file and line.
#[test]
fn salt_states_are_checked_by_real_salt() {
    let repo = repo_with_ci();
    let state = repo.path().join("salt/metalk8s/solutions/init.sls");
    let original = fs::read_to_string(&state).unwrap();
    fs::write(
        &state,
        format!(
            "{original}\n\
             Misspelt argument:\n  file.managed:\n    - name: /tmp/a\n    - sourc: salt://metalk8s/map.jinja\n\n\
             Missing requisite:\n  file.absent:\n    - name: /tmp/b\n    - require:\n      - file: No such state\n\n\
             Missing source:\n  file.managed:\n    - name: /tmp/c\n    - source: salt://metalk8s/nowhere.conf\n\n\
             Misspelt keyword:\n  file.absent:\n    - name: /tmp/d\n    - requires:\n      - file: Missing source\n\n\
             extend:\n  No such ID:\n    file:\n      - mode: '0644'\n"
        ),
    )
    .unwrap();
    let line = |needle: &str| {
        let text = fs::read_to_string(&state).unwrap();
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    };
    let at = |needle: &str| format!("salt/metalk8s/solutions/init.sls:{}: ", line(needle));
    lint_fails(
        &repo,
        "lint:sls",
        &[
            &at("- sourc:"),
            "unknown argument 'sourc' (did you mean 'source'?) [salt-argument]",
            &at("No such state"),
            "[salt-requisite]",
            &at("nowhere.conf"),
            "salt://metalk8s/nowhere.conf is not in the Salt environment",
            &at("- requires:"),
            "unknown argument 'requires' (did you mean 'require'?)",
            &at("No such ID:"),
            "extend names file state \"No such ID\", which no rendered state is",
        ],
    );
    fs::write(&state, &original).unwrap();

    // A state that does not render: Salt's message, at its file and line.
    fs::write(
        repo.path().join("salt/metalk8s/broken.sls"),
        "{%- from \"metalk8s/map.jinja\" import repo with context %}\n\
         Broken state:\n  test.nop:\n    - name: {{ repo.no_such_key.x }}\n",
    )
    .unwrap();
    lint_fails(
        &repo,
        "lint:sls",
        &["salt/metalk8s/broken.sls:4: ", "[salt-render]"],
    );
    fs::remove_file(repo.path().join("salt/metalk8s/broken.sls")).unwrap();

    // A pillar file of the node role that is not YAML.
    let pillar = repo.path().join("pillar/metalk8s/roles/node.sls");
    let original = fs::read_to_string(&pillar).unwrap();
    fs::write(&pillar, format!("{original}\nbroken:\n  a: 1\n   b: 2\n")).unwrap();
    lint_fails(
        &repo,
        "lint:sls",
        &["pillar/metalk8s/roles/node.sls", "[salt-pillar]"],
    );
    fs::write(&pillar, original).unwrap();

    // Without Salt, lint:sls fails saying what to install: never a pass.
    let out = repo.run(&["lint:sls"], &[("SALT_CALL_BIN", "/nonexistent")]);
    fails(&out, &["/nonexistent", "SALT_CALL_BIN", "ci/setup.sh"]);
}

/// One `buildchain lint` run reports every finding: two broken files of two kinds are both
/// named, the other files are still linted, and the summary lists both failures.
#[test]
fn one_lint_run_reports_every_finding() {
    let repo = repo_with_ci();
    fs::write(
        repo.path().join("examples/broken.yaml"),
        "apiVersion: v1\nkind: Broken\napiVersion: v2\n",
    )
    .unwrap();
    fs::write(
        repo.path().join("ci/broken.sh"),
        "#!/bin/bash\nif true; then\n  echo broken\n",
    )
    .unwrap();
    let out = repo.run(&["lint", "-n", "1"], &[]);
    let err = fails(
        &out,
        &[
            "examples/broken.yaml:3:1: ",
            "ci/broken.sh:",
            "buildchain: failed: ",
        ],
    );
    let summary = err
        .lines()
        .find(|l| l.starts_with("buildchain: failed: "))
        .unwrap_or_default();
    assert!(
        summary.contains("_lint:yaml/examples/broken.yaml")
            && summary.contains("_lint:shell/ci/broken.sh"),
        "{err}"
    );
    let stdout = stdout(&out);
    assert!(
        with_status(&stdout, "SUCCESS").contains(&"_lint:shell/ci/test.sh".to_string()),
        "the other files are linted too:\n{stdout}"
    );

    // The same with the tasks named, and -k given explicitly.
    let out = repo.run(
        &[
            "-k",
            "-n",
            "1",
            "_lint:yaml/examples/broken.yaml",
            "_lint:shell/ci/broken.sh",
        ],
        &[],
    );
    fails(&out, &["examples/broken.yaml:3:1: ", "ci/broken.sh:"]);
}
