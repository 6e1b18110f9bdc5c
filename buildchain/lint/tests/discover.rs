//! File discovery over a small repository layout.

use buildchain_lint::discover::{find, FileKind};

#[test]
fn finds_sources_and_skips_build_outputs_and_salt_templates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, text) in [
        ("salt/metalk8s/init.sls", "a: 1\n"),
        ("salt/metalk8s/defaults.yaml", "a: 1\n"),
        ("salt/metalk8s/files/manifest.yaml", "a: {{ x }}\n"),
        ("salt/top.sls.in", "a: 1\n"),
        ("pillar/top.sls", "a: 1\n"),
        ("examples/bootstrap.yaml", "a: 1\n"),
        ("examples/.hidden/x.yaml", "a: 1\n"),
        ("iso/bootstrap.sh.in", "#!/bin/sh\n"),
        ("ci/test.sh", "#!/bin/sh\n"),
        ("ci/target/x.sh", "#!/bin/sh\n"),
        ("buildchain/x/tests/broken.yaml", "a: [\n"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let relative = |kind| -> Vec<String> {
        find(root, kind)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect()
    };
    assert_eq!(
        relative(FileKind::Yaml),
        ["examples/bootstrap.yaml", "salt/metalk8s/defaults.yaml"]
    );
    assert_eq!(
        relative(FileKind::Sls),
        ["pillar/top.sls", "salt/metalk8s/init.sls"]
    );
    assert_eq!(relative(FileKind::SlsTemplate), ["salt/top.sls.in"]);
    assert_eq!(relative(FileKind::Shell), ["ci/test.sh"]);
    assert_eq!(relative(FileKind::ShellTemplate), ["iso/bootstrap.sh.in"]);
}
