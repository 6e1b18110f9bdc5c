//! What a state sees when it renders: grains, pillar, opts, saltenv, the template path
//! variables Salt sets (`sls`, `slspath`, `tpldir`…) and the `salt` functions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;
use serde_json::json;

use super::salt::{SaltData, SaltFunctions};
use super::value::from_json;

/// Where the trees are and the stand-in minion the states render for.
#[derive(Debug, Clone, PartialEq)]
pub struct SlsContext {
    /// The salt tree (`file_roots`): states' `{% from "x/map.jinja" … %}`, `{% include %}`
    /// and `import_yaml` names resolve here.
    pub salt_root: PathBuf,
    /// The pillar tree; files under it resolve their imports there.
    pub pillar_root: Option<PathBuf>,
    /// `grains`; [`SlsContext::new`] sets a plausible Rocky Linux 8 bootstrap node.
    pub grains: serde_json::Value,
    /// `pillar`; empty by default (lookups of missing keys give their default).
    pub pillar: serde_json::Value,
    /// `saltenv` (and `opts.saltenv`).
    pub saltenv: String,
    /// Files that exist in the rendered tree but not in the sources (e.g. the generated
    /// `metalk8s/versions.json`), by name relative to the tree root: imports see them first.
    pub generated_files: BTreeMap<String, String>,
}

impl SlsContext {
    /// A context for the salt tree at `salt_root`, default grains, empty pillar, saltenv `base`.
    pub fn new(salt_root: impl Into<PathBuf>) -> SlsContext {
        SlsContext {
            salt_root: salt_root.into(),
            pillar_root: None,
            grains: default_grains(),
            pillar: json!({}),
            saltenv: "base".into(),
            generated_files: BTreeMap::new(),
        }
    }

    /// Adds a generated file (see [`SlsContext::generated_files`]).
    pub fn with_generated_file(
        mut self,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> SlsContext {
        self.generated_files.insert(name.into(), content.into());
        self
    }

    /// Sets the pillar tree.
    pub fn with_pillar_root(mut self, pillar_root: impl Into<PathBuf>) -> SlsContext {
        self.pillar_root = Some(pillar_root.into());
        self
    }

    /// The tree `path` belongs to: the pillar tree when under it, else the salt tree.
    pub(crate) fn root_of(&self, path: &Path) -> PathBuf {
        match &self.pillar_root {
            Some(pillar) if relative_to(path, pillar).is_some() => pillar.clone(),
            _ => self.salt_root.clone(),
        }
    }

    /// The template globals for the template `name` (relative to `root`).
    pub(crate) fn globals(&self, name: &str, root: &Path) -> Value {
        let grains = from_json(&self.grains);
        let pillar = from_json(&self.pillar);
        let opts = from_json(&json!({
            "id": self.grains.get("id").cloned().unwrap_or(json!("bootstrap")),
            "saltenv": self.saltenv,
            "pillarenv": null,
            "__role": "minion",
            "file_client": "local",
            "cachedir": "/var/cache/salt/minion",
            "file_roots": {&self.saltenv: [root.display().to_string()]},
        }));
        let salt = Value::from_object(SaltFunctions(Arc::new(SaltData {
            grains: grains.clone(),
            pillar: pillar.clone(),
            opts: opts.clone(),
        })));
        let tpldir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let stem = name.strip_suffix(".sls").unwrap_or(name);
        let sls_path = stem.strip_suffix("/init").unwrap_or(stem);
        let sls = sls_path.replace('/', ".");
        let slspath = if stem.ends_with("/init") || stem == "init" {
            sls_path
        } else {
            tpldir
        };
        let mut globals: BTreeMap<&str, Value> = BTreeMap::new();
        globals.insert("grains", grains);
        globals.insert("pillar", pillar);
        globals.insert("opts", opts);
        globals.insert("salt", salt);
        globals.insert("saltenv", Value::from(self.saltenv.as_str()));
        globals.insert("env", Value::from(self.saltenv.as_str()));
        globals.insert("sls", Value::from(sls.as_str()));
        globals.insert("slspath", Value::from(slspath));
        globals.insert("sls_path", Value::from(slspath.replace('/', "_")));
        globals.insert("slsdotpath", Value::from(slspath.replace('/', ".")));
        globals.insert("slscolonpath", Value::from(slspath.replace('/', ":")));
        globals.insert("tplfile", Value::from(name));
        globals.insert(
            "tplpath",
            Value::from(root.join(name).display().to_string()),
        );
        globals.insert(
            "tpldir",
            Value::from(if tpldir.is_empty() { "." } else { tpldir }),
        );
        globals.insert("tpldot", Value::from(tpldir.replace('/', ".")));
        globals.insert(
            "tplroot",
            Value::from(name.split('/').next().unwrap_or_default()),
        );
        Value::from(globals)
    }
}

/// `path` relative to `root`, comparing as given, then canonicalized.
pub(crate) fn relative_to(path: &Path, root: &Path) -> Option<PathBuf> {
    if let Ok(relative) = path.strip_prefix(root) {
        return Some(relative.to_path_buf());
    }
    let path = path.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    path.strip_prefix(root).ok().map(Path::to_path_buf)
}

fn default_grains() -> serde_json::Value {
    json!({
        "id": "bootstrap",
        "host": "bootstrap",
        "nodename": "bootstrap",
        "fqdn": "bootstrap.metalk8s.local",
        "domain": "metalk8s.local",
        "kernel": "Linux",
        "kernelrelease": "4.18.0-513.5.1.el8_9.x86_64",
        "os": "Rocky",
        "os_family": "RedHat",
        "osfinger": "Rocky Linux-8",
        "osfullname": "Rocky Linux",
        "osmajorrelease": 8,
        "osrelease": "8.9",
        "osrelease_info": [8, 9],
        "oscodename": "Green Obsidian",
        "cpuarch": "x86_64",
        "num_cpus": 4,
        "mem_total": 16000,
        "init": "systemd",
        "virtual": "kvm",
        "ipv4": ["127.0.0.1", "172.21.254.2", "172.21.254.34"],
        "ipv6": [],
        "ip4_interfaces": {"eth0": ["10.0.2.15"], "eth1": ["172.21.254.2"], "eth2": ["172.21.254.34"]},
        "ip_interfaces": {"eth0": ["10.0.2.15"], "eth1": ["172.21.254.2"], "eth2": ["172.21.254.34"]},
        "hwaddr_interfaces": {"eth0": "52:54:00:00:00:01", "eth1": "52:54:00:00:00:02"},
        "selinux": {"enabled": true, "enforced": "Permissive"},
        "saltversion": "3002.9",
        "saltversioninfo": [3002, 9],
        "pythonversion": [3, 6, 8, "final", 0],
        "metalk8s": {
            "control_plane_ip": "172.21.254.2",
            "workload_plane_ip": "172.21.254.34",
        },
    })
}
