#!/usr/bin/env bash
# Benchmark: nginx registry config generation on 1,000 images (500 repositories x 2 tags,
# small synthesised v2s2 manifests in skopeo's dir: layout), ours vs the Python original
# (scality/static-container-registry.py) on the same tree, as a ratio.
#
# The Python original is not part of this project: it is run from a copy kept outside the
# repository, ${STATIC_REGISTRY_PY:-/work/ref/static-container-registry.py}, copied into
# $BENCH_DIR at bench time. Without it, only our absolute figure is reported.
# Run through `ci/bench.sh registry` (sets BIN_DIR and BENCH_DIR).
set -euo pipefail

: "${BIN_DIR:?run through ci/bench.sh}"
: "${BENCH_DIR:?run through ci/bench.sh}"
ours=$BIN_DIR/static-container-registry
reference_source=${STATIC_REGISTRY_PY:-/work/ref/static-container-registry.py}
work=$BENCH_DIR/registry
images=$work/images
repositories=500

for tool in hyperfine awk; do
  command -v "$tool" >/dev/null || { echo "registry bench: $tool is required" >&2; exit 1; }
done

rm -rf "$work"
mkdir -p "$images"

# Synthesise the tree: per repository, tag 1.0 and tag latest (the same image for even
# repositories, exercising the by-digest de-duplication), each with a config and a layer.
for ((r = 0; r < repositories; r++)); do
  for tag in 1.0 latest; do
    dir=$images/repo-$r/$tag
    mkdir -p "$dir"
    seed=$r
    if [ "$tag" = latest ] && [ $((r % 2)) -eq 1 ]; then seed=$r-latest; fi
    printf 'layer %s\n' "$seed" >"$dir/layer"
    printf '{"architecture":"amd64","os":"linux","seed":"%s"}' "$seed" >"$dir/config"
    layer=$(sha256sum "$dir/layer" | cut -d' ' -f1)
    config=$(sha256sum "$dir/config" | cut -d' ' -f1)
    mv "$dir/layer" "$dir/$layer"
    mv "$dir/config" "$dir/$config"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"sha256:%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":"sha256:%s"}]}' \
      "$(stat -c %s "$dir/$config")" "$config" "$(stat -c %s "$dir/$layer")" "$layer" >"$dir/manifest.json"
    printf 'Directory Transport Version: 1.1\n' >"$dir/version"
  done
done
echo "registry bench: $((repositories * 2)) images in $images"

ours_cmd="$ours --server-root /srv/images $images"
"$ours" --server-root /srv/images "$images" >"$work/ours.conf"
count_manifest_locations() { grep -c '^location = "/v2/.*/manifests/' "$1"; }

if [ -f "$reference_source" ] && command -v python3 >/dev/null; then
  cp "$reference_source" "$work/static-container-registry.py"
  ref_cmd="python3 $work/static-container-registry.py --server-root /srv/images $images"
  python3 "$work/static-container-registry.py" --server-root /srv/images "$images" \
    >"$work/reference.conf" 2>/dev/null
  # Same input, same work: as many manifest locations (by tag + distinct digests).
  ours_count=$(count_manifest_locations "$work/ours.conf")
  ref_count=$(count_manifest_locations "$work/reference.conf")
  if [ "$ours_count" != "$ref_count" ]; then
    echo "registry bench: outputs differ: $ours_count manifest locations vs $ref_count" >&2
    exit 1
  fi
  echo "registry bench: both write $ours_count manifest locations"
  hyperfine --warmup 2 --runs 15 --style basic --output null \
    --export-csv "$work/hyperfine.csv" \
    -n static-container-registry "$ours_cmd" \
    -n static-container-registry.py "$ref_cmd"
  # CSV: command,mean,stddev,median,user,system,min,max (seconds).
  awk -F, 'NR == 2 { ours = $2 } NR == 3 { ref = $2 }
    END { printf "registry: ours %.1f ms, Python original %.1f ms, ratio %.1fx faster\n",
          ours * 1000, ref * 1000, ref / ours }' "$work/hyperfine.csv"
else
  echo "registry bench: Python original not found at $reference_source (or no python3): absolute figure only"
  hyperfine --warmup 2 --runs 15 --style basic --output null \
    --export-csv "$work/hyperfine.csv" -n static-container-registry "$ours_cmd"
  awk -F, 'NR == 2 { printf "registry: ours %.1f ms on 1000 images\n", $2 * 1000 }' \
    "$work/hyperfine.csv"
fi
rm -rf "$images"
