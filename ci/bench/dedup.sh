#!/usr/bin/env bash
# Dedup benchmark: our dedup against util-linux `hardlink -c` on two fresh copies of a
# ~2 GiB tree of skopeo dir: images sharing layers (40 images, 20 shared 24 MiB blobs of one
# size but different content, plus a small unique layer each). Same result required.
# Run by ci/bench.sh (sets BIN_DIR and BENCH_DIR). Prints the time ratio (target <= 0.7).
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
BIN_DIR=${BIN_DIR:-target/release}
work=$BENCH_DIR/dedup
IMAGES=${DEDUP_IMAGES:-40}
POOL=${DEDUP_POOL:-20}
BLOB_MIB=${DEDUP_BLOB_MIB:-24}

HARDLINK=/usr/bin/hardlink
if [ ! -x "$HARDLINK" ]; then
  echo "dedup bench: util-linux hardlink not found at $HARDLINK (apt-get install util-linux)" >&2
  exit 1
fi
[ -x "$BIN_DIR/buildchain" ] || { echo "dedup bench: $BIN_DIR/buildchain not built" >&2; exit 1; }
ours=("$BIN_DIR/buildchain" dedup)

src=$work/src
if [ ! -f "$src/.complete" ]; then
  echo "synthesising $IMAGES images from $POOL shared ${BLOB_MIB} MiB blobs in $src"
  rm -rf "$src"
  mkdir -p "$work/pool" "$src"
  for i in $(seq 1 "$POOL"); do
    head -c "$((BLOB_MIB << 20))" /dev/urandom > "$work/pool/$i"
  done
  for n in $(seq 1 "$IMAGES"); do
    dir=$src/images/img-$n/1.0.$n
    mkdir -p "$dir"
    printf 'Directory Transport Version: 1.1\n' > "$dir/version"
    printf '{"image": %d}\n' "$n" > "$dir/manifest.json"
    for k in 0 1; do
      blob=$(( (n * 7 + k * 3) % POOL + 1 ))
      hex=$(printf 'blob-%d' "$blob" | sha256sum | cut -c1-64)
      cp "$work/pool/$blob" "$dir/$hex"
    done
    head -c 65536 /dev/urandom > "$dir/unique-$n"
  done
  rm -rf "$work/pool"
  touch "$src/.complete"
fi

rm -rf "$work/a" "$work/b"
cp -a "$src" "$work/a"
cp -a "$src" "$work/b"
sync
echo "tree: $(du -sh --apparent-size "$src" | cut -f1), $(find "$src" -type f | wc -l) files"

now() { date +%s.%N; }
t0=$(now); "$HARDLINK" -c "$work/a" > /dev/null; t1=$(now)
"${ours[@]}" "$work/b"; t2=$(now)

# Same result: the same partition of paths into inodes.
groups() {
  (cd "$1" && find . -type f ! -name .complete -printf '%i %p\n' | sort -k1,1n -k2 |
    awk '{ if ($1 != last && NR > 1) print line; if ($1 != last) line = $2; else line = line " " $2; last = $1 } END { print line }' | sort)
}
if ! diff <(groups "$work/a") <(groups "$work/b") > "$work/diff.txt"; then
  echo "dedup bench: results differ from hardlink -c (see $work/diff.txt)" >&2
  exit 1
fi
echo "same result: $(du -sh "$work/b" | cut -f1) on disk after dedup"

ref=$(echo "$t1 - $t0" | bc -l)
mine=$(echo "$t2 - $t1" | bc -l)
printf 'hardlink -c: %.2fs\nours (%s): %.2fs\nratio: %.2f (target <= 0.7)\n' \
  "$ref" "${ours[*]}" "$mine" "$(echo "$mine / $ref" | bc -l)"
rm -rf "$work/a" "$work/b"
