//! Salt state lint against a small salt tree written by the tests.

use std::path::{Path, PathBuf};

use buildchain_lint::sls::{self, SlsContext};
use buildchain_lint::Finding;

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let tree = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        tree.write(
            "salt/metalk8s/defaults.yaml",
            "repo:\n  port: 8080\n  hosts: [a, b]\n",
        );
        tree.write(
            "salt/metalk8s/map.jinja",
            concat!(
                "{%- import_yaml \"metalk8s/defaults.yaml\" as defaults %}\n",
                "{%- set repo = salt['grains.filter_by']({'RedHat': {'pkg': 'yum'},",
                " 'default': {'pkg': 'none'}}, merge=defaults.repo) %}\n",
                "{%- macro pkg_name(name) -%}{{ name }}-{{ repo.pkg }}{%- endmacro %}\n",
            ),
        );
        tree
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn context(&self) -> SlsContext {
        SlsContext::new(self.dir.path().join("salt"))
            .with_pillar_root(self.dir.path().join("pillar"))
    }

    fn lint(&self, relative: &str, text: &str) -> (PathBuf, Vec<Finding>) {
        let path = self.write(relative, text);
        let findings = sls::lint_file(&path, &self.context()).unwrap();
        (path, findings)
    }
}

const GOOD_STATE: &str = r#"{%- from "metalk8s/map.jinja" import repo, pkg_name with context %}
{%- set port = salt['pillar.get']('networks:repo:port', repo.port) %}
{%- set cp = pillar.get('networks', {}).get('control_plane', '10.0.0.0/8') %}
include:
  - .deployed

Install {{ pkg_name('nginx') }}:
  pkg.installed:
    - name: {{ repo.pkg }}
    - version: {{ pillar.metalk8s.nginx.version | default('1.0', true) }}
{%- for host in repo.hosts | unique %}

Configure {{ host }} in {{ sls }} ({{ tpldir }}):
  file.managed:
    - name: /etc/{{ host }}/{{ slspath }}.conf
    - contents: {{ {'port': port, 'cp': cp, 'os': grains['os_family']} | yaml }}
    - user: {{ salt.metalk8s.get_user(host) }}
    - mode: '{{ salt['file.join']('/srv', host, 'x') }}'
{%- endfor %}

{%- load_yaml as extra %}
key: {{ undefined_variable.deeper.still }}
{%- endload %}
Extra {{ extra.key }}:
  test.nop:
    - names: {{ salt['metalk8s.unknown_function']('x') | list | tojson }}
    - also: {{ saltenv }}
"#;

#[test]
fn undefined_tolerant_state_with_imports_renders_and_parses() {
    let tree = Tree::new();
    let (_, findings) = tree.lint("salt/metalk8s/repo/init.sls", GOOD_STATE);
    assert!(findings.is_empty(), "{findings:#?}");
    let rendered = sls::render_str(
        &tree.dir.path().join("salt/metalk8s/repo/init.sls"),
        GOOD_STATE,
        &tree.context(),
    )
    .unwrap();
    assert!(rendered.contains("Install nginx-yum:"), "{rendered}");
    assert!(
        rendered.contains("Configure b in metalk8s.repo (metalk8s/repo):"),
        "{rendered}"
    );
    assert!(rendered.contains("\"port\":8080"), "{rendered}");
    assert!(rendered.contains("mode: '/srv/a/x'"), "{rendered}");
}

#[test]
fn broken_jinja_names_file_and_line() {
    let tree = Tree::new();
    let text = "a:\n  test.nop: []\n{% if grains.id %}\nb:\n  test.nop: []\n";
    let (path, findings) = tree.lint("salt/metalk8s/broken.sls", text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].path, path);
    assert_eq!(findings[0].rule, "jinja");
    assert!(findings[0].line >= 3, "{findings:#?}");
    assert!(
        findings[0]
            .to_string()
            .starts_with(&format!("{}:", path.display())),
        "{}",
        findings[0]
    );
    let (_, findings) = tree.lint(
        "salt/metalk8s/filter.sls",
        "a:\n  b: {{ 1 | no_such_filter }}\n",
    );
    assert_eq!((findings.len(), findings[0].line), (1, 2), "{findings:#?}");
}

#[test]
fn error_in_imported_file_names_that_file() {
    let tree = Tree::new();
    let map = tree.write(
        "salt/metalk8s/bad.jinja",
        "{% set x = 1 %}\n{% set y = (1 %}\n",
    );
    let (path, findings) = tree.lint(
        "salt/metalk8s/uses-bad.sls",
        "{% from 'metalk8s/bad.jinja' import x %}\na: {{ x }}\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].path, map);
    assert_eq!(findings[0].line, 2);
    assert!(findings[0].message.contains(&path.display().to_string()));
}

#[test]
fn missing_import_is_a_finding() {
    let tree = Tree::new();
    let (path, findings) = tree.lint(
        "salt/metalk8s/missing.sls",
        "\n{% from 'metalk8s/nope.jinja' import x %}\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        (findings[0].path.as_path(), findings[0].line),
        (path.as_path(), 2)
    );
    let (_, findings) = tree.lint(
        "salt/metalk8s/missing-yaml.sls",
        "{% import_yaml 'metalk8s/nope.yaml' as y %}\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].message.contains("nope.yaml"), "{findings:#?}");
}

#[test]
fn rendered_duplicate_state_ids_and_bad_shapes_are_findings() {
    let tree = Tree::new();
    let text = "{% for i in [1, 1] %}\nstate-{{ i }}:\n  test.nop: []\n{% endfor %}\n";
    let (_, findings) = tree.lint("salt/metalk8s/dup.sls", text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, "key-duplicates");
    assert!(
        findings[0].message.starts_with("rendered line 5: "),
        "{findings:#?}"
    );
    assert_eq!(
        findings[0].line, 2,
        "the line of the source that produced it"
    );
    let (_, findings) = tree.lint("salt/metalk8s/list.sls", "- a\n- b\n");
    assert_eq!(findings[0].rule, "sls-structure");
    let (_, findings) = tree.lint("salt/metalk8s/yaml.sls", "a: [1\nb: 2\n");
    assert_eq!(findings[0].rule, "syntax");
    let text = "{%- set items = ['x', 'y: z'] %}\n{%- for i in items %}\nkey-{{ loop.index }}: {{ i }}\n{%- endfor %}\n";
    let (_, findings) = tree.lint("salt/metalk8s/badvalue.sls", text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        (findings[0].rule.as_str(), findings[0].line),
        ("syntax", 3),
        "{findings:#?}"
    );
    let (_, findings) = tree.lint("salt/metalk8s/empty.sls", "{# nothing #}\n");
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn non_yaml_renderers_are_skipped_and_pillar_files_resolve_in_the_pillar_tree() {
    let tree = Tree::new();
    let (_, findings) = tree.lint("salt/metalk8s/py.sls", "#!py\ndef run():\n  return {}\n");
    assert!(findings.is_empty(), "{findings:#?}");
    tree.write("pillar/metalk8s/defaults.jinja", "{% set port = 4507 %}\n");
    let (_, findings) = tree.lint(
        "pillar/metalk8s/init.sls",
        "{% from 'metalk8s/defaults.jinja' import port %}\nmetalk8s:\n  port: {{ port }}\n",
    );
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn path_traversal_in_imports_is_refused() {
    let tree = Tree::new();
    tree.write("secret.jinja", "{% set x = 'leaked' %}\n");
    let (_, findings) = tree.lint(
        "salt/metalk8s/escape.sls",
        "{% from '../secret.jinja' import x %}\na: {{ x }}\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let (_, findings) = tree.lint(
        "salt/metalk8s/escape2.sls",
        "{% import_yaml '/etc/passwd' as x %}\na: 1\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
}

#[test]
fn rendered_template_text_is_linted_under_its_source_name() {
    let tree = Tree::new();
    let source = Path::new("salt/top.sls.in");
    let findings = sls::lint_str(source, "base:\n  '*':\n    - a\n    - a\n", &tree.context());
    assert!(findings.is_empty(), "{findings:#?}");
    let findings = sls::lint_str(source, "base:\n  x: 1\n  x: 2\n", &tree.context());
    assert_eq!(findings[0].path, source);
}

#[test]
fn generated_files_are_seen_by_imports() {
    let tree = Tree::new();
    let text = "{% import_json 'metalk8s/versions.json' as v %}\nk8s:\n  version: {{ v.kubernetes.version }}\n";
    let (_, findings) = tree.lint("salt/metalk8s/v.sls", text);
    assert_eq!(
        findings.len(),
        1,
        "without the generated file: {findings:#?}"
    );
    let context = tree.context().with_generated_file(
        "metalk8s/versions.json",
        r#"{"kubernetes": {"version": "1.29.1"}}"#,
    );
    let path = tree.dir.path().join("salt/metalk8s/v.sls");
    let rendered = sls::render_str(&path, text, &context).unwrap();
    assert!(rendered.contains("version: 1.29.1"), "{rendered}");
    assert!(sls::lint_file(&path, &context).unwrap().is_empty());
}

#[test]
fn salt_functions_take_keyword_arguments_and_traverse() {
    let tree = Tree::new();
    let mut context = tree.context();
    context.pillar = serde_json::json!({"networks": {"cp": "10.0.0.0/8"}, "l": [{"x": 1}]});
    let text = concat!(
        "a: {{ salt['pillar.get']('missing:key', default='dflt') }}\n",
        "b: {{ salt['pillar.get']('networks:cp') }}\n",
        "c: {{ salt.pillar.get('l:0:x') }}\n",
        "d: {{ salt['grains.filter_by']({'Rocky': 'r', 'default': 'd'}, grain='os') }}\n",
        "e: {{ pillar.get('networks:cp') }}\n",
        "f: {{ grains.osmajorrelease }}\n",
        "g: {{ {'k': [1, 2]} | traverse('k:1') }}\n",
        "h: {{ [1, 1, 2] | unique | tojson }}\n",
        "i: {{ 'x' | yaml_squote }}\n",
        "j: {{ salt['x.y']().z | int }} {{ '3' | int }} {{ 'no' | int(7) }} {{ 2.5 | int }}\n",
        "k: {{ salt.m.f() | float }} {{ '1.5' | float }} {{ none | int }} {{ 'abc' | int }} {{ [1] | float }}\n",
    );
    let path = tree.dir.path().join("salt/metalk8s/fns.sls");
    let rendered = sls::render_str(&path, text, &context).unwrap();
    assert_eq!(
        rendered,
        "a: dflt\nb: 10.0.0.0/8\nc: 1\nd: r\ne: 10.0.0.0/8\nf: 8\ng: 2\nh: [1, 2]\ni: 'x'\nj: 0 3 7 2\nk: 0.0 1.5 0 0 0.0\n"
    );
}

#[test]
fn hostile_templates_are_findings_not_crashes_or_hangs() {
    let tree = Tree::new();
    for (name, text) in [
        (
            "huge-range.sls",
            "{% for i in range(1000000000) %}{{ i }}{% endfor %}\n",
        ),
        (
            "recursion.sls",
            "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}\n",
        ),
        (
            "self-import.sls",
            "{% from 'metalk8s/self-import.sls' import x %}\n",
        ),
        (
            "deep-yaml.sls",
            &format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        (
            "bad-load.sls",
            "{% load_yaml as x %}\na: [\n{% endload %}\nb: 1\n",
        ),
        ("bad-json.sls", "{% set x = '{' | load_json %}\n"),
        ("unterminated.sls", "{% load_yaml as x %}\na: 1\n"),
        ("nul.sls", "a: \u{0}\n"),
    ] {
        let (_, findings) = tree.lint(&format!("salt/metalk8s/{name}"), text);
        assert!(!findings.is_empty(), "{name} should not pass");
    }
}
