//! `vagrant-up` and `vagrant-restore`: a local bootstrap node running the freshly built
//! tree (see vagrant/Vagrantfile), as MetalK8s does it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};
use buildchain_graph::Task;

use super::Cfg;

pub const KEY: &str = "_vagrantkey";
pub const UP_NOPROV: &str = "_vagrant_up_noprov";
pub const SNAPSHOT: &str = "_vagrant_snapshot";

/// `.vagrant/preshared_key_for_k8s_nodes` at the repository root.
pub fn key_path(cfg: &Cfg) -> PathBuf {
    cfg.repo(".vagrant/preshared_key_for_k8s_nodes")
}

fn snapshot_name(cfg: &Cfg) -> String {
    cfg.var("VAGRANT_SNAPSHOT_NAME", "bootstrap.autosnapshot")
}

/// `VAGRANT_UP_ARGS`, split shell-style (default as MetalK8s).
pub fn up_args(cfg: &Cfg) -> Result<Vec<String>> {
    let provider = cfg.var("VAGRANT_PROVIDER", "virtualbox");
    let default = format!("--provision --no-destroy-on-error --parallel --provider {provider}");
    let raw = cfg.var("VAGRANT_UP_ARGS", &default);
    shell_words::split(&raw)
        .with_context(|| format!("VAGRANT_UP_ARGS {raw:?}: cannot split shell-style"))
}

/// The program `name` as configured, if it can be found (a path, or a name on PATH).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| is_exec(p))
    })
}

fn vagrant(cfg: &Cfg) -> Result<Command> {
    let bin = cfg.bin("vagrant");
    let Some(path) = find_program(&bin) else {
        bail!("vagrant not found: VAGRANT_BIN={bin:?} is not an executable file nor on PATH (install Vagrant or set VAGRANT_BIN)");
    };
    let mut cmd = Command::new(path);
    cmd.current_dir(&cfg.repo_root)
        .env("BUILD_ROOT", &cfg.build_root)
        .env(
            "VAGRANT_PROVIDER",
            cfg.var("VAGRANT_PROVIDER", "virtualbox"),
        );
    if !cfg.vars.contains_key("VAGRANT_VAGRANTFILE") {
        cmd.env("VAGRANT_VAGRANTFILE", "vagrant/Vagrantfile");
    }
    Ok(cmd)
}

/// Runs vagrant with its output on our stderr (the terminal; stdout stays for reporters).
fn run_vagrant(cfg: &Cfg, args: &[String]) -> Result<()> {
    let mut cmd = vagrant(cfg)?;
    cmd.args(args).stdin(Stdio::null());
    if let Ok(fd) = std::io::stderr().as_fd_clone() {
        cmd.stdout(fd);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run vagrant {}", args.join(" ")))?;
    if !status.success() {
        bail!("vagrant {} failed ({status})", args.join(" "));
    }
    Ok(())
}

trait StderrClone {
    fn as_fd_clone(&self) -> std::io::Result<Stdio>;
}

impl StderrClone for std::io::Stderr {
    fn as_fd_clone(&self) -> std::io::Result<Stdio> {
        use std::os::fd::AsFd;
        Ok(Stdio::from(self.as_fd().try_clone_to_owned()?))
    }
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Whether `vagrant snapshot list` shows the snapshot.
fn snapshot_exists(cfg: &Cfg) -> Result<bool> {
    let name = snapshot_name(cfg);
    let out = vagrant(cfg)?
        .args(["snapshot", "list"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run vagrant snapshot list")?;
    if !out.status.success() {
        // No machine yet (or no snapshot support): the snapshot does not exist.
        return Ok(false);
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == name))
}

fn keygen(cfg: &Cfg) -> Result<()> {
    let key = key_path(cfg);
    let pubkey = key.with_extension("pub");
    if key.is_file() && pubkey.is_file() {
        return Ok(());
    }
    let dir = key.parent().unwrap_or(&cfg.repo_root).to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    // Generated aside, then both renamed: never a key without its public half.
    let tmp = dir.join(format!(".preshared_key.tmp-{}", std::process::id()));
    let tmp_pub = tmp.with_extension(format!("tmp-{}.pub", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(&tmp_pub);
    let bin = cfg.bin("ssh-keygen");
    let out = Command::new(&bin)
        .args([
            "-q",
            "-t",
            "rsa",
            "-b",
            "4096",
            "-N",
            "",
            "-C",
            "vagrant-preshared-key",
            "-f",
        ])
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {bin} (SSH_KEYGEN_BIN)"))?;
    if !out.status.success() {
        bail!(
            "{bin} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    std::fs::rename(&tmp_pub, &pubkey)
        .with_context(|| format!("{}: cannot write", pubkey.display()))?;
    std::fs::rename(&tmp, &key).with_context(|| format!("{}: cannot write", key.display()))?;
    Ok(())
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let key = key_path(cfg);
    let (c1, c2, c3, c4, c5, c6, c7) = (
        cfg.clone(),
        cfg.clone(),
        cfg.clone(),
        cfg.clone(),
        cfg.clone(),
        cfg.clone(),
        cfg.clone(),
    );
    Ok(vec![
        Task::new(KEY)
            .doc("Generate the SSH key pre-shared by the Vagrant nodes (once).")
            .targets([key.clone(), key.with_extension("pub")])
            .version("ssh-keygen rsa 4096 v1")
            .action(move |_| keygen(&c1))
            .clean(|ctx: &buildchain_graph::CleanContext| -> Result<()> {
                ctx.note("kept the pre-shared Vagrant key (.vagrant/preshared_key_for_k8s_nodes)");
                Ok(())
            }),
        Task::new(UP_NOPROV)
            .doc("vagrant up <VAGRANT_UP_ARGS> --no-provision")
            .task_deps([KEY, "populate-iso"])
            .always_run()
            .action(move |_| -> Result<()> {
                let mut args = s(&["up"]);
                args.extend(up_args(&c2)?);
                args.push("--no-provision".into());
                run_vagrant(&c2, &args)
            }),
        Task::new(SNAPSHOT)
            .doc("Halt the bootstrap machine and snapshot it (skipped when the snapshot exists).")
            .task_dep(UP_NOPROV)
            .uptodate(move || snapshot_exists(&c3))
            .action(move |_| -> Result<()> {
                run_vagrant(&c4, &s(&["halt", "bootstrap"]))?;
                run_vagrant(&c4, &s(&["snapshot", "save", "--force", "bootstrap", &snapshot_name(&c4)]))
            }),
        Task::new("vagrant-up")
            .doc("Spawn a development environment using Vagrant (bootstrap node provisioned from the build tree).")
            .task_deps(["populate-iso", SNAPSHOT])
            .always_run()
            .action(move |_| -> Result<()> {
                let mut args = s(&["up"]);
                args.extend(up_args(&c5)?);
                run_vagrant(&c5, &args)
            })
            // Destroying the machines is never part of a plain `clean`.
            .clean_only_when_named()
            .clean(move |ctx: &buildchain_graph::CleanContext| -> Result<()> {
                if !c6.repo(".vagrant/machines").exists() || find_program(&c6.bin("vagrant")).is_none() {
                    return Ok(());
                }
                if ctx.dry_run() {
                    ctx.note("would run vagrant destroy --force");
                    return Ok(());
                }
                run_vagrant(&c6, &s(&["destroy", "--force"]))?;
                ctx.note("ran vagrant destroy --force");
                Ok(())
            }),
        Task::new("vagrant-restore")
            .doc("Restore the bootstrap machine to its snapshot.")
            .always_run()
            .action(move |_| -> Result<()> {
                run_vagrant(&c7, &s(&["snapshot", "restore", "bootstrap", &snapshot_name(&c7)]))
            }),
    ])
}
