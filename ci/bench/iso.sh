#!/usr/bin/env bash
# Benchmark: mkiso --implantisomd5 (one pass) against genisoimage + implantisomd5 (the
# MetalK8s chain) on a ~2 GiB image-layer-like tree deduplicated with `hardlink -c` to about
# 0.5 GiB of unique data, and against md5sum of the result (the sequential floor); then the
# whole `iso` step, ISO + MD5 + SHA256SUM: mkiso --implantisomd5 --sha256sum against
# genisoimage + implantisomd5 + sha256sum. Also the peak RSS of mkiso (GNU time).
# Run by ci/bench.sh, which sets BIN_DIR (release binaries) and BENCH_DIR (work files).
set -euo pipefail

BIN_DIR=${BIN_DIR:?BIN_DIR must point at the release binaries (run via ci/bench.sh)}
BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
WORK=$BENCH_DIR/iso
TREE=$WORK/tree
RUNS=${ISO_BENCH_RUNS:-3}
for t in genisoimage implantisomd5 checkisomd5 hardlink hyperfine md5sum sha256sum python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "iso bench: required tool '$t' not found" >&2; exit 2; }
done
[ -x "$BIN_DIR/mkiso" ] || { echo "iso bench: $BIN_DIR/mkiso not built" >&2; exit 2; }

# --- the input tree: 4 "images" sharing the same ~0.5 GiB of layer blobs ----------------
if [ ! -f "$TREE/.complete" ]; then
  rm -rf "$TREE"
  mkdir -p "$TREE/blobs"
  echo "iso bench: generating the tree in $TREE" >&2
  # 160 unique layer blobs, sizes from 4 KiB to ~12 MiB (deterministic sizes), ~0.5 GiB.
  total=0 i=0
  while [ "$total" -lt $((512 * 1024 * 1024)) ]; do
    size=$(( (i * 2654435761 % 12582912) + 4096 ))
    head -c "$size" /dev/urandom > "$TREE/blobs/$(printf 'blob%04d' "$i")"
    total=$((total + size)); i=$((i + 1))
  done
  for img in alpha beta gamma delta; do
    d=$TREE/images/$img/1.0.0
    mkdir -p "$d"
    for b in "$TREE"/blobs/blob*; do
      digest=$(printf '%s' "$(basename "$b")" | sha256sum | cut -c1-64)
      cp "$b" "$d/$digest"
    done
    printf 'Directory Transport Version: 1.1\n' > "$d/version"
    printf '{"schemaVersion":2,"image":"%s"}\n' "$img" > "$d/manifest.json"
  done
  rm -rf "$TREE/blobs"
  # Small files, as in the salt tree and packages repodata.
  for n in $(seq 1 2000); do
    mkdir -p "$TREE/salt/module$((n % 50))"
    printf 'state %d\n' "$n" > "$TREE/salt/module$((n % 50))/state$n.sls"
  done
  echo "iso bench: before dedup: $(du -sh --apparent-size "$TREE" | cut -f1)" >&2
  hardlink -c "$TREE" >/dev/null
  touch "$TREE/.complete"
fi
echo "tree: $(du -sh --apparent-size "$TREE" | cut -f1) apparent, $(du -sh "$TREE" | cut -f1) on disk (after hardlink -c), $(find "$TREE" -type f | wc -l) files"

FLAGS=(-quiet -rock -joliet -joliet-long -full-iso9660-filenames --iso-level 3 -uid 0 -gid 0
       -input-charset utf-8 -output-charset utf-8 -V "METALK8S BENCH")
OURS=$WORK/ours.iso
REF=$WORK/reference.iso
export SOURCE_DATE_EPOCH=1700000000

# Warm the page cache for both sides, then time.
find "$TREE" -type f -exec cat {} + > /dev/null
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/result.json" \
  -n "mkiso --implantisomd5" "$BIN_DIR/mkiso ${FLAGS[*]@Q} --implantisomd5 -o $OURS $TREE" \
  -n "genisoimage + implantisomd5" "genisoimage ${FLAGS[*]@Q} -o $REF $TREE 2>/dev/null && implantisomd5 $REF >/dev/null" \
  -n "md5sum of the image" "md5sum $OURS" \
  -n "mkiso --implantisomd5 --sha256sum" "$BIN_DIR/mkiso ${FLAGS[*]@Q} --implantisomd5 --sha256sum $WORK/ours.sum -o $OURS $TREE" \
  -n "genisoimage + implantisomd5 + sha256sum" "genisoimage ${FLAGS[*]@Q} -o $REF $TREE 2>/dev/null && implantisomd5 $REF >/dev/null && sha256sum $REF > $WORK/reference.sum"

checkisomd5 "$OURS" >/dev/null 2>&1 || { echo "iso bench: checkisomd5 FAILED on our image" >&2; exit 1; }
[ "$(cut -d' ' -f1 "$WORK/ours.sum")" = "$(sha256sum "$OURS" | cut -d' ' -f1)" ] ||
  { echo "iso bench: mkiso --sha256sum disagrees with sha256sum" >&2; exit 1; }
rss=$(/usr/bin/time -f %M "$BIN_DIR/mkiso" "${FLAGS[@]}" --implantisomd5 --sha256sum "$WORK/ours.sum" -o "$OURS" "$TREE" 2>&1 >/dev/null | tail -1)
echo "peak RSS of mkiso --implantisomd5 --sha256sum: $((rss / 1024)) MiB (target < 64 MiB)"
echo "sizes: ours $(stat -c %s "$OURS") bytes, reference $(stat -c %s "$REF") bytes"
python3 - "$WORK/result.json" <<'PY'
import json, sys
res = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
names = ["mkiso --implantisomd5", "genisoimage + implantisomd5", "md5sum of the image",
         "mkiso --implantisomd5 --sha256sum", "genisoimage + implantisomd5 + sha256sum"]
wall = {n: res[n]["mean"] for n in names}
cpu = {n: res[n]["user"] + res[n]["system"] for n in names}
for n in names:
    print(f"{n:30s} wall {wall[n]:7.3f} s   cpu (user+sys) {cpu[n]:7.3f} s")
ours, ref, md5, step, ref_step = names
print(f"ratio ours/reference:      wall {wall[ours]/wall[ref]:.2f}, cpu {cpu[ours]/cpu[ref]:.2f} (target <= 0.55)")
print(f"ratio ours/md5sum:         wall {wall[ours]/wall[md5]:.2f}, cpu {cpu[ours]/cpu[md5]:.2f} (target <= 1.15)")
print(f"ratio whole step (+sha256): wall {wall[step]/wall[ref_step]:.2f}, cpu {cpu[step]/cpu[ref_step]:.2f} (target <= 0.45)")
PY
rm -f "$OURS" "$REF" "$WORK/ours.sum" "$WORK/reference.sum"
