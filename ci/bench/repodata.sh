#!/usr/bin/env bash
# Benchmark: repodata generation, ours (`buildchain repodata`, the buildchain-rpm library)
# against createrepo_c --no-database (same documents: primary, filelists, other) on a few
# hundred packages synthesised with our own builder (`buildchain build-rpm`). Prints the
# ratio ours/createrepo_c.
# Run by ci/bench.sh, which sets BIN_DIR (release binaries) and BENCH_DIR (work files).
set -euo pipefail

BIN_DIR=${BIN_DIR:?BIN_DIR must point at the release binaries (run via ci/bench.sh)}
BENCH_DIR=${BENCH_DIR:-/tmp/buildchain-bench}
WORK=$BENCH_DIR/repodata
PACKAGES=${REPODATA_BENCH_PACKAGES:-300}
RUNS=${REPODATA_BENCH_RUNS:-5}
for t in createrepo_c hyperfine python3; do
  command -v "$t" >/dev/null || { echo "repodata bench: required tool '$t' not found" >&2; exit 2; }
done
[ -x "$BIN_DIR/buildchain" ] || { echo "repodata bench: $BIN_DIR/buildchain not built" >&2; exit 2; }
export SOURCE_DATE_EPOCH=1700000000

# --- the input: $PACKAGES packages, 2 to 21 files each, 1 KiB to ~1.5 MiB per package ---
if [ ! -f "$WORK/.complete-$PACKAGES" ]; then
  rm -rf "$WORK"
  mkdir -p "$WORK/src" "$WORK/repo"
  echo "repodata bench: synthesising $PACKAGES packages in $WORK" >&2
  for i in $(seq 1 "$PACKAGES"); do
    name=$(printf 'bench-pkg%04d' "$i")
    dir=$WORK/src/$name
    mkdir -p "$dir/files"
    nfiles=$(( (i * 7) % 20 + 2 ))
    size=$(( (i * 2654435761) % 1572864 + 1024 ))
    head -c "$size" /dev/urandom > "$dir/files/payload.bin"
    {
      printf 'name = "%s"\nversion = "1.%d"\nrelease = "1.el8"\n' "$name" "$((i % 13))"
      printf 'summary = "Benchmark package %d"\ndescription = "Synthesised for ci/bench/repodata.sh."\n' "$i"
      printf 'license = "MIT"\narch = "x86_64"\n'
      printf 'requires = ["bench-pkg%04d >= 1.0", "/bin/sh"]\nprovides = ["bench-virtual-%d = 1.0"]\n' "$(( i % PACKAGES + 1 ))" "$((i % 17))"
      printf '[[files]]\nsource = "%s/files/payload.bin"\ndest = "/usr/lib/%s/payload.bin"\n' "$name" "$name"
      for f in $(seq 1 "$nfiles"); do
        printf 'file %d of %s\n' "$f" "$name" > "$dir/files/f$f.conf"
        printf '[[files]]\nsource = "%s/files/f%d.conf"\ndest = "/etc/%s/f%d.conf"\nconfig = true\n' "$name" "$f" "$name" "$f"
      done
    } > "$dir/package.toml"
  done
  "$BIN_DIR/buildchain" build-rpm --repo-root "$WORK/src" --out "$WORK/repo" "$WORK"/src/bench-pkg* > /dev/null
  touch "$WORK/.complete-$PACKAGES"
fi
echo "input: $(find "$WORK/repo" -name '*.rpm' | wc -l) packages, $(du -sh --apparent-size "$WORK/repo" | cut -f1)"

# Warm the page cache, then time both on the same directory.
find "$WORK/repo" -name '*.rpm' -exec cat {} + > /dev/null
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/result.json" \
  --prepare "rm -rf '$WORK/repo/repodata'" \
  -n ours "'$BIN_DIR/buildchain' repodata '$WORK/repo'" \
  -n createrepo_c "createrepo_c -q --no-database '$WORK/repo'"

python3 - "$WORK/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours, ref = results["ours"]["mean"], results["createrepo_c"]["mean"]
print(f"repodata: ours {ours:.3f}s, createrepo_c {ref:.3f}s, ratio {ours / ref:.2f} (target <= 1.0)")
PY
