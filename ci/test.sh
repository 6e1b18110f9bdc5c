#!/usr/bin/env bash
# The whole test suite: installs the Debian packages the integration tests need (when
# missing), then checks formatting and lints, and runs every test of the workspace.
# Tests run in release mode: they build and read multi-GiB images, and the quick-start
# command (`cargo run --release`) then reuses the same build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/setup.sh

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --release -- -D warnings

echo "== cargo test"
cargo test --workspace --release --no-fail-fast
