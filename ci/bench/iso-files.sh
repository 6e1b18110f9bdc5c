#!/usr/bin/env bash
# Benchmark: mkiso against genisoimage (same MetalK8s flags) on trees of many small files,
# to show how each grows with the number of files: 10k, 50k and 100k files in 100
# directories, and 2k, 4k and 8k files in one directory whose names collide once cut to ISO
# 9660 length (each clash gets a numeric suffix). Run by ci/bench.sh (BIN_DIR, BENCH_DIR).
set -euo pipefail

BIN_DIR=${BIN_DIR:?BIN_DIR must point at the release binaries (run via ci/bench.sh)}
BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
WORK=$BENCH_DIR/iso-files
RUNS=${ISO_FILES_BENCH_RUNS:-3}
for t in genisoimage hyperfine python3; do
  command -v "$t" >/dev/null || { echo "iso-files bench: required tool '$t' not found" >&2; exit 2; }
done
[ -x "$BIN_DIR/mkiso" ] || { echo "iso-files bench: $BIN_DIR/mkiso not built" >&2; exit 2; }
mkdir -p "$WORK"

make_tree() { # NAME KIND COUNT
  local dir=$WORK/$1
  [ -f "$dir/.complete" ] && return
  rm -rf "$dir"
  python3 - "$dir" "$2" "$3" <<'PY'
import os, sys
root, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    if kind == "spread":
        path = os.path.join(root, f"dir{i % 100:03d}", f"file{i:06d}.conf")
    else:  # one directory, names equal in their first 40 characters
        path = os.path.join(root, "clash", f"{'same-prefix-' * 4}{i:06d}.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"{i}\n")
PY
  touch "$dir/.complete"
}

FLAGS=(-quiet -rock -joliet -joliet-long -full-iso9660-filenames --iso-level 3 -uid 0 -gid 0
       -input-charset utf-8 -output-charset utf-8 -V "METALK8S BENCH")
export SOURCE_DATE_EPOCH=1700000000
args=()
for spec in spread:10000 spread:50000 spread:100000 clash:2000 clash:4000 clash:8000; do
  kind=${spec%%:*} count=${spec##*:}
  name=$kind-$count
  make_tree "$name" "$kind" "$count"
  find "$WORK/$name" -type f -exec cat {} + > /dev/null
  args+=(-n "mkiso $name" "$BIN_DIR/mkiso ${FLAGS[*]@Q} -o $WORK/ours.iso $WORK/$name")
  args+=(-n "genisoimage $name" "genisoimage ${FLAGS[*]@Q} -o $WORK/reference.iso $WORK/$name 2>/dev/null")
done
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/result.json" "${args[@]}" > /dev/null
python3 - "$WORK/result.json" <<'PY'
import json, sys
res = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"{'tree':16s} {'mkiso s':>9s} {'genisoimage s':>14s} {'ratio':>6s}  {'mkiso us/file':>13s}")
for name in ["spread-10000", "spread-50000", "spread-100000", "clash-2000", "clash-4000", "clash-8000"]:
    ours, ref = res[f"mkiso {name}"], res[f"genisoimage {name}"]
    files = int(name.split("-")[1])
    print(f"{name:16s} {ours:9.3f} {ref:14.3f} {ours/ref:6.2f}  {ours/files*1e6:13.1f}")
PY
rm -f "$WORK/ours.iso" "$WORK/reference.iso"
