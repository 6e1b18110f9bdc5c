#!/usr/bin/env bash
# Solution archive benchmark: `solution-archive validate` of a ~1 GiB Solution ISO (every
# blob sha256-hashed, the implanted MD5 checked) against `sha256sum` of the same file, same
# run, warm page cache. Also times `solution-archive build` of the tree (informative).
# Run by ci/bench.sh (sets BIN_DIR and BENCH_DIR). Prints the throughputs and the ratio.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
BIN_DIR=${BIN_DIR:-target/release}
work=$BENCH_DIR/solution
IMAGES=${SOLUTION_IMAGES:-8}
LAYER_MIB=${SOLUTION_LAYER_MIB:-128}
RUNS=${SOLUTION_RUNS:-3}

for tool in hyperfine sha256sum; do
  command -v "$tool" >/dev/null || { echo "solution bench: $tool not found" >&2; exit 1; }
done
[ -x "$BIN_DIR/solution-archive" ] || { echo "solution bench: $BIN_DIR/solution-archive missing" >&2; exit 1; }

tree=$work/tree
if [ ! -f "$work/.tree-complete" ]; then
  echo "synthesising $IMAGES images with one ${LAYER_MIB} MiB layer each in $tree"
  rm -rf "$tree"
  mkdir -p "$tree/images" "$tree/operator/deploy/crds"
  images=""
  for n in $(seq 1 "$IMAGES"); do
    if [ "$n" -eq 1 ]; then name=bench-operator; tag=1.0.0; else name=img-$n; tag=1.$n.0; fi
    dir=$tree/images/$name/$tag
    mkdir -p "$dir"
    printf 'Directory Transport Version: 1.1\n' > "$dir/version"
    head -c "$((LAYER_MIB << 20))" /dev/urandom > "$dir/layer"
    layer_hex=$(sha256sum "$dir/layer" | cut -c1-64)
    layer_size=$(stat -c %s "$dir/layer")
    mv "$dir/layer" "$dir/$layer_hex"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$layer_hex" > "$dir/config"
    config_hex=$(sha256sum "$dir/config" | cut -c1-64)
    config_size=$(stat -c %s "$dir/config")
    mv "$dir/config" "$dir/$config_hex"
    cat > "$dir/manifest.json" <<JSON
{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": $config_size, "digest": "sha256:$config_hex"},
  "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": $layer_size, "digest": "sha256:$layer_hex"}]
}
JSON
    images="$images    - $name:$tag"$'\n'
  done
  cat > "$tree/manifest.yaml" <<YAML
apiVersion: solutions.metalk8s.scality.com/v1alpha1
kind: Solution
metadata:
  name: bench
  annotations:
    solutions.metalk8s.scality.com/display-name: Bench
spec:
  version: 1.0.0
  images:
$images
YAML
  touch "$work/.tree-complete"
fi

iso=$work/bench.iso
rm -f "$iso"
start=$(date +%s.%N)
"$BIN_DIR/solution-archive" build "$tree" -o "$iso" >/dev/null
end=$(date +%s.%N)
size=$(stat -c %s "$iso")
mib=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1048576 }')
echo "build: ${mib} MiB ISO in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s (dedup, registry config, ISO + MD5, validation)"

hyperfine --warmup 1 --runs "$RUNS" --style basic --export-csv "$work/times.csv" \
  -n "solution-archive validate" "$BIN_DIR/solution-archive validate $iso" \
  -n "sha256sum" "sha256sum $iso"

ours=$(awk -F, 'NR == 2 { print $2 }' "$work/times.csv")
ref=$(awk -F, 'NR == 3 { print $2 }' "$work/times.csv")
awk -v o="$ours" -v r="$ref" -v s="$size" 'BEGIN {
  printf "validate: %.2f s (%.0f MiB/s) | sha256sum: %.2f s (%.0f MiB/s) | time ratio ours/sha256sum = %.2f\n",
    o, s / 1048576 / o, r, s / 1048576 / r, o / r
}'
rm -f "$iso"
