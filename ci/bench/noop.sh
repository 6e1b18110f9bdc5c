#!/usr/bin/env bash
# No-op build: `buildchain iso` over a build tree of 10,000+ files where everything is up
# to date (every file dependency stat'ed, hashes reused through the mtime/size/inode fast
# path), against `find BUILD_ROOT -newer ISO` over the same tree (the cheapest possible
# mtime-based check). Prints both means and the ratio buildchain / find.
# Run through ci/bench.sh (which builds $BIN_DIR/buildchain and sets $BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN_DIR=${BIN_DIR:-$PWD/target/release}
BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
FILES=${NOOP_FILES:-10000}
for tool in hyperfine jq find; do
  command -v "$tool" >/dev/null || { echo "noop.sh: $tool is required (ci/setup.sh installs it)" >&2; exit 1; }
done
[ -x "$BIN_DIR/buildchain" ] || { echo "noop.sh: $BIN_DIR/buildchain missing (run ci/bench.sh noop)" >&2; exit 1; }

work=$BENCH_DIR/noop
rm -rf "$work"
mkdir -p "$work/repo"
for entry in VERSION versions.toml salt pillar iso examples docs images packages vagrant; do
  [ -e "$entry" ] && cp -a "$entry" "$work/repo/"
done
# 10,000 small documents: copied into the ISO tree's documentation/.
mkdir -p "$work/repo/docs/bench"
for ((d = 0; d < 100; d++)); do
  mkdir -p "$work/repo/docs/bench/d$d"
  for ((f = 0; f < FILES / 100; f++)); do
    echo "document $d/$f" > "$work/repo/docs/bench/d$d/f$f.md"
  done
done
export SOURCE_DATE_EPOCH=1700000000 BUILD_HOST=bench
cd "$work/repo"
"$BIN_DIR/buildchain" -n 2 iso > /dev/null
tree_files=$(find _build -type f | wc -l)
out=$("$BIN_DIR/buildchain" -n 2 iso)
if grep -qv '^SKIPPED ' <<< "$out"; then
  echo "noop.sh: the second run was not a no-op:" >&2
  echo "$out" >&2
  exit 1
fi
# The second reference stats what a no-op must check: the sources as well as the build tree.
hyperfine --style basic --warmup 3 --runs 30 --export-json "$work/noop.json" \
  -n buildchain "$BIN_DIR/buildchain -n 2 iso" \
  -n find "find _build -newer _build/metalk8s.iso" \
  -n find-all "find docs salt iso examples _build -newer _build/metalk8s.iso" > "$work/hyperfine.txt"
mean() { jq ".results[] | select(.command == \"$1\") | .mean" "$work/noop.json"; }
ours=$(mean buildchain)
ref=$(mean find)
all=$(mean find-all)
printf 'noop: build tree of %d files\n' "$tree_files"
printf '  buildchain iso (no-op):        %8.2f ms\n' "$(jq -n "$ours * 1000")"
printf '  find _build -newer:            %8.2f ms\n' "$(jq -n "$ref * 1000")"
printf '  find sources + _build -newer:  %8.2f ms\n' "$(jq -n "$all * 1000")"
printf '  ratio buildchain/find _build:  %8.2f (target <= 2.0)\n' "$(jq -n "$ours / $ref")"
printf '  ratio buildchain/find all:     %8.2f\n' "$(jq -n "$ours / $all")"
[ -n "${KEEP:-}" ] || rm -rf "$work"
