#!/usr/bin/env bash
# Pull benchmark: ~10 images of ~50 MiB in a local docker-registry (Debian's
# docker-registry on 127.0.0.1, plain HTTP), pulled by our client and by `skopeo copy`
# (one invocation per image each, no cache), same results required.
# Run by ci/bench.sh (sets BIN_DIR and BENCH_DIR). Prints the time ratio (target <= 0.8).
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
BIN_DIR=${BIN_DIR:-target/release}
work=$BENCH_DIR/pull
IMAGES=${PULL_IMAGES:-10}

for tool in /usr/bin/docker-registry /usr/bin/skopeo; do
  if [ ! -x "$tool" ]; then
    echo "pull bench: $tool not found (bash ci/setup.sh installs it)" >&2
    exit 1
  fi
done
if [ ! -x "$BIN_DIR/buildchain" ]; then
  echo "pull bench: $BIN_DIR/buildchain not built" >&2
  exit 1
fi

rm -rf "$work"
mkdir -p "$work/storage" "$work/src"
# shellcheck disable=SC1091  # ci/bench/lib/registry.sh is linted on its own
. "$(dirname "$0")/lib/registry.sh"
port=""  # set by start_registry
start_registry "$work"
cleanup() { stop_registry; rm -rf "$work"; }
trap cleanup EXIT

sha() { sha256sum "$1" | cut -c1-64; }
echo "generating $IMAGES images of ~50 MiB (3 gzip'd layers of random data each)"
for n in $(seq 1 "$IMAGES"); do
  dir=$work/src/img-$n
  mkdir -p "$dir/tmp"
  layers=""
  diff_ids=""
  for mib in 24 16 10; do
    head -c "$((mib << 20))" /dev/urandom > "$dir/tmp/payload-$mib"
    tar -C "$dir/tmp" -cf "$dir/tmp/layer.tar" "payload-$mib"
    gzip -1 -n -c "$dir/tmp/layer.tar" > "$dir/tmp/layer.tgz"
    hex=$(sha "$dir/tmp/layer.tgz")
    diff_ids+="${diff_ids:+,}\"sha256:$(sha "$dir/tmp/layer.tar")\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":$(stat -c %s "$dir/tmp/layer.tgz"),\"digest\":\"sha256:$hex\"}"
    mv "$dir/tmp/layer.tgz" "$dir/$hex"
  done
  rm -rf "$dir/tmp"
  finish_image "$dir" "$diff_ids" "$layers"
  skopeo copy --quiet --dest-tls-verify=false "dir:$dir" "docker://127.0.0.1:$port/bench/img-$n:1.0"
done
rm -rf "$work/src"
echo "registry: $(du -sh "$work/storage" | cut -f1) on 127.0.0.1:$port"

ours=("$BIN_DIR/buildchain" pull --insecure)

now() { date +%s.%N; }
mkdir -p "$work/skopeo" "$work/ours"
t0=$(now)
for n in $(seq 1 "$IMAGES"); do
  skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$port/bench/img-$n:1.0" "dir:$work/skopeo/img-$n"
done
t1=$(now)
for n in $(seq 1 "$IMAGES"); do
  "${ours[@]}" "127.0.0.1:$port/bench/img-$n:1.0" "$work/ours/img-$n" > /dev/null
done
t2=$(now)

if ! diff -r "$work/skopeo" "$work/ours" > /dev/null; then
  echo "pull bench: our images differ from skopeo's" >&2
  diff -rq "$work/skopeo" "$work/ours" >&2 || true
  exit 1
fi
echo "same result: every manifest.json and blob file identical to skopeo's"

ref=$(echo "$t1 - $t0" | bc -l)
mine=$(echo "$t2 - $t1" | bc -l)
printf 'skopeo copy (one per image): %.2fs\nours (%s, one per image): %.2fs\n' "$ref" "${ours[*]}" "$mine"
printf 'ratio: %.2f (target <= 0.8)\n' "$(echo "$mine / $ref" | bc -l)"
