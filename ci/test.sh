#!/usr/bin/env bash
# The whole test suite: installs what the integration tests need when missing (Debian
# packages, the pinned Salt: ci/setup.sh), runs every test of the workspace, then
# `buildchain lint`: YAML, Salt states (real Salt), shell scripts, and the Rust code
# (lint:rust: cargo fmt --check, cargo clippy -D warnings).
# Tests run in release mode: they build and read multi-GiB images, and the quick-start
# command (`cargo run --release`) then reuses the same build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/setup.sh

echo "== cargo test"
cargo test --workspace --release --no-fail-fast

echo "== buildchain lint"
# The built binary, not `cargo run`: lint:rust starts cargo fmt and clippy itself.
cargo build --release -p buildchain
"${CARGO_TARGET_DIR:-target}/release/buildchain" lint
