#!/usr/bin/env bash
# Benchmark: the whole `buildchain iso` of a 40-image distribution (about 2 GiB apparent,
# 0.5 GiB unique: each image is one of 10 shared ~48 MiB base layers plus a small layer of
# its own), pulled from a local docker-registry, against the MetalK8s tool chain on the same
# input: skopeo copy per image, hardlink -c, the registry-config generator, genisoimage,
# implantisomd5, sha256sum. Both start cold (empty destination, warm page cache), and the
# reference ISO gets the same non-image content (salt, packages, docs) as ours.
# The Python generator of MetalK8s is not available offline: our static-container-registry
# stands in for it (0.03 s here; the Python original takes longer).
# Run by ci/bench.sh (BIN_DIR, BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN_DIR=${BIN_DIR:?BIN_DIR must point at the release binaries (run via ci/bench.sh)}
BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
work=$BENCH_DIR/e2e
IMAGES=${E2E_IMAGES:-40}
BASES=${E2E_BASES:-10}
BASE_MIB=${E2E_BASE_MIB:-48}
for tool in /usr/bin/docker-registry skopeo hardlink genisoimage implantisomd5 sha256sum gzip python3; do
  command -v "$tool" >/dev/null || { echo "e2e bench: required tool '$tool' not found (bash ci/setup.sh)" >&2; exit 2; }
done
for bin in buildchain static-container-registry; do
  [ -x "$BIN_DIR/$bin" ] || { echo "e2e bench: $BIN_DIR/$bin not built" >&2; exit 2; }
done

mkdir -p "$work"
rm -rf "$work/storage" "$work/repo" "$work/ref"
# shellcheck disable=SC1091  # ci/bench/lib/registry.sh is linted on its own
. ci/bench/lib/registry.sh
port=""  # set by start_registry
start_registry "$work"
trap stop_registry EXIT

sha() { sha256sum "$1" | cut -c1-64; }
# Layers: a gzip'd tar of one file; kept between runs (generating them is slow).
make_layer() { # DIR NAME MIB -> prints "<diff_id> <digest> <size>"
  local dir=$1 name=$2 mib=$3
  if [ ! -f "$dir/$name.tgz" ]; then
    mkdir -p "$dir/$name.d"
    head -c "${mib}M" /dev/urandom > "$dir/$name.d/$name.bin"
    tar -C "$dir/$name.d" -cf "$dir/$name.tar" "$name.bin"
    gzip -1 -n -c "$dir/$name.tar" > "$dir/$name.tgz.tmp" && mv "$dir/$name.tgz.tmp" "$dir/$name.tgz"
    sha "$dir/$name.tar" > "$dir/$name.diffid"
    rm -rf "$dir/$name.d" "$dir/$name.tar"
  fi
  echo "$(cat "$dir/$name.diffid") $(sha "$dir/$name.tgz") $(stat -c %s "$dir/$name.tgz")"
}
layers=$work/layers
mkdir -p "$layers"
echo "e2e bench: $IMAGES images on 127.0.0.1:$port ($BASES shared base layers of $BASE_MIB MiB)" >&2
entries=""
for n in $(seq 1 "$IMAGES"); do
  dir=$work/src/img-$n
  rm -rf "$dir"
  mkdir -p "$dir"
  diff_ids="" descs=""
  for spec in "base-$(( n % BASES )) $BASE_MIB" "own-$n 1"; do
    read -r name mib <<< "$spec"
    read -r diff_id digest size <<< "$(make_layer "$layers" "$name" "$mib")"
    cp "$layers/$name.tgz" "$dir/$digest"
    diff_ids+="${diff_ids:+,}\"sha256:$diff_id\""
    descs+="${descs:+,}{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":$size,\"digest\":\"sha256:$digest\"}"
  done
  finish_image "$dir" "$diff_ids" "$descs"
  skopeo copy --quiet --dest-tls-verify=false "dir:$dir" "docker://127.0.0.1:$port/bench/img-$n:1.0"
  entries+=$(printf '\n[[images]]\nname = "img-%s"\nremote_name = "bench/img-%s"\nversion = "1.0"\nsource = "127.0.0.1:%s"\ndigest = "sha256:%s"\n' "$n" "$n" "$port" "$(sha "$dir/manifest.json")")
done
rm -rf "$work/src"

# The distribution: this repository's, plus the 40 images.
mkdir -p "$work/repo"
for entry in VERSION versions.toml salt pillar iso examples docs images packages vagrant; do
  [ -e "$entry" ] && cp -a "$entry" "$work/repo/"
done
printf '%s\n\n[[registries]]\nhost = "127.0.0.1:%s"\ninsecure = true\n' "$entries" "$port" >> "$work/repo/versions.toml"
export SOURCE_DATE_EPOCH=1700000000 BUILD_HOST=bench
now() { date +%s.%N; }

# --- ours: one command, cold build root ----------------------------------------------
cd "$work/repo"
t0=$(now)
"$BIN_DIR/buildchain" -n 2 iso > "$work/ours.log"
t1=$(now)
ours=$(echo "$t1 - $t0" | bc -l)
apparent=$(du -shl --apparent-size _build/root/images | cut -f1)
unique=$(du -sh _build/root/images | cut -f1)

# --- the MetalK8s chain on the same input ----------------------------------------------
ref=$work/ref
mkdir -p "$ref/root"
# Same non-image content (not timed: both chains build it the same way).
(cd _build/root && for e in *; do [ "$e" = images ] || cp -a "$e" "$ref/root/"; done)
step() { local name=$1; shift; local s; s=$(now); "$@"; printf '  %-28s %6.2f s\n' "$name" "$(echo "$(now) - $s" | bc -l)" >> "$ref/steps.txt"; }
pull_all() {
  local n
  for n in $(seq 1 "$IMAGES"); do
    mkdir -p "$ref/root/images/img-$n"
    skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$port/bench/img-$n:1.0" "dir:$ref/root/images/img-$n/1.0"
  done
}
: > "$ref/steps.txt"
t2=$(now)
step "skopeo copy x$IMAGES" pull_all
step "hardlink -c" hardlink -c "$ref/root/images" > /dev/null
step "registry config" sh -c "'$BIN_DIR/static-container-registry' --name-prefix metalk8s/ --server-root /srv $ref/root/images > $ref/registry.inc"
step "genisoimage" genisoimage -quiet -rock -joliet -joliet-long -full-iso9660-filenames -iso-level 3 -uid 0 -gid 0 \
  -input-charset utf-8 -output-charset utf-8 -V "MetalK8s 0.1.0-dev" -o "$ref/metalk8s.iso" "$ref/root"
step "implantisomd5" sh -c "implantisomd5 $ref/metalk8s.iso > /dev/null"
step "sha256sum" sh -c "sha256sum $ref/metalk8s.iso > $ref/SHA256SUM"
t3=$(now)
reference=$(echo "$t3 - $t2" | bc -l)

echo "e2e: $IMAGES images, $apparent apparent, $unique on disk after dedup"
echo "ours: buildchain -n 2 iso (cold)         $(printf '%6.2f' "$ours") s"
echo "  slowest tasks:"
grep -E '^SUCCESS' "$work/ours.log" | sed -E 's/^SUCCESS +([^ ]+) \[([0-9.]+)s\]$/\2 \1/' | sort -rn | head -8 |
  while read -r secs task; do printf '  %-28s %6.2f s\n' "$task" "$secs"; done
echo "reference: MetalK8s tool chain          $(printf '%6.2f' "$reference") s"
cat "$ref/steps.txt"
printf 'ratio ours/reference: %.2f (target <= 0.25)\n' "$(echo "$ours / $reference" | bc -l)"
[ -n "${KEEP:-}" ] || rm -rf "$work/repo" "$work/ref" "$work/storage"
