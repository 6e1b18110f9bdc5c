//! Lints a checkout of the distribution with the library's defaults, as `buildchain lint`
//! would (handlebars `.in` templates get a stand-in rendering of plain `{{name}}` values):
//!
//! `cargo run -p buildchain-lint --example lint_repo -- [REPO_ROOT] [--shell]`

use std::path::PathBuf;

use buildchain_lint::discover::{find, FileKind};
use buildchain_lint::sls::{self, SlsContext};
use buildchain_lint::yaml::{self, YamlConfig};
use buildchain_lint::{shell, Finding};

const CONTEXT: [(&str, &str); 14] = [
    ("project_name", "MetalK8s"),
    ("version", "0.1.0-dev"),
    ("short_version", "0.1"),
    ("version_major", "0"),
    ("version_minor", "1"),
    ("version_patch", "0"),
    ("version_suffix", "-dev"),
    ("development_release", "1"),
    ("git", "v0.1.0-dev"),
    ("build_timestamp", "2026-01-01T00:00:00Z"),
    ("build_host", "builder"),
    ("kubernetes_version", "1.29.1"),
    ("product_id", "metalk8s-0.1.0-dev"),
    ("saltenv", "metalk8s-0.1.0-dev"),
];

fn render_handlebars(text: &str) -> String {
    CONTEXT
        .iter()
        .fold(text.to_string(), |text, (name, value)| {
            text.replace(&format!("{{{{{name}}}}}"), value)
        })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(
        args.iter()
            .find(|a| !a.starts_with("--"))
            .map_or(".", |a| a),
    );
    let mut findings: Vec<Finding> = Vec::new();

    let yaml_files = find(&root, FileKind::Yaml)?;
    findings.extend(yaml::lint_files(&yaml_files, &YamlConfig::default())?);

    let versions = r#"{"kubernetes": {"version": "1.29.1"}, "metalk8s": {"version": "0.1.0-dev"},
        "images": [], "packages": {}, "repositories": []}"#;
    let context = SlsContext::new(root.join("salt"))
        .with_pillar_root(root.join("pillar"))
        .with_generated_file("metalk8s/versions.json", versions);
    let sls_files = find(&root, FileKind::Sls)?;
    findings.extend(sls::lint_files(&sls_files, &context)?);
    let templates = find(&root, FileKind::SlsTemplate)?;
    for template in &templates {
        let rendered = render_handlebars(&std::fs::read_to_string(template)?);
        findings.extend(sls::lint_str(template, &rendered, &context));
    }

    let mut shell_count = 0;
    if args.iter().any(|a| a == "--shell") {
        let bin = PathBuf::from(std::env::var("SHELLCHECK_BIN").unwrap_or("shellcheck".into()));
        let scripts = find(&root, FileKind::Shell)?;
        findings.extend(shell::lint_files(&scripts, &bin)?);
        let shell_templates = find(&root, FileKind::ShellTemplate)?;
        let mut rendered = Vec::new();
        for template in &shell_templates {
            rendered.push((
                template.clone(),
                render_handlebars(&std::fs::read_to_string(template)?),
            ));
        }
        findings.extend(shell::lint_rendered_set(&rendered, &bin)?);
        shell_count = scripts.len() + shell_templates.len();
    }

    for finding in &findings {
        println!("{finding}");
    }
    eprintln!(
        "{} YAML, {} states, {} state templates, {} shell files: {} findings",
        yaml_files.len(),
        sls_files.len(),
        templates.len(),
        shell_count,
        findings.len()
    );
    if findings.is_empty() {
        Ok(())
    } else {
        std::process::exit(1)
    }
}
