//! Prints the rendering of one state (debug aid):
//! `cargo run -p buildchain-lint --example render_state -- REPO_ROOT salt/x/y.sls`

use std::path::PathBuf;

use buildchain_lint::sls::{self, SlsContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(root), Some(state)) = (args.first(), args.get(1)) else {
        return Err("usage: render_state REPO_ROOT STATE".into());
    };
    let root = PathBuf::from(root);
    let mut context = SlsContext::new(root.join("salt"))
        .with_pillar_root(root.join("pillar"))
        .with_generated_file("metalk8s/versions.json", "{}");
    context.grains["metalk8s"]["archives"] =
        serde_json::json!({"metalk8s-0.1.0-dev": "/srv/scality/metalk8s-0.1.0-dev"});
    let path = root.join(state);
    match sls::render_str(&path, &std::fs::read_to_string(&path)?, &context) {
        Ok(rendered) => print!("{rendered}"),
        Err(finding) => println!("{finding}"),
    }
    Ok(())
}
