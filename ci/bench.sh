#!/usr/bin/env bash
# Benchmarks, side by side with the reference tool on the same input, reported as ratios.
#   ci/bench.sh            runs every benchmark
#   ci/bench.sh NAME…      runs ci/bench/NAME.sh (iso, iso-files, e2e, registry, noop, dedup, pull, repodata, diff…)
# Work files go under ${BENCH_DIR:-/tmp/buildchain-bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
cargo build --release --workspace --bins
export BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
export BIN_DIR=$PWD/target/release
mkdir -p "$BENCH_DIR"
if [ $# -eq 0 ]; then
  for script in ci/bench/*.sh; do
    name=${script##*/}
    set -- "$@" "${name%.sh}"
  done
fi
for name in "$@"; do
  script=ci/bench/$name.sh
  if [ ! -f "$script" ]; then
    have=()
    for known in ci/bench/*.sh; do known=${known##*/}; have+=("${known%.sh}"); done
    echo "ci/bench.sh: no benchmark named '$name' (have: ${have[*]})" >&2
    exit 2
  fi
  echo "== bench $name"
  bash "$script"
done
