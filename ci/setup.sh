#!/usr/bin/env bash
# Installs the Debian packages the integration tests run against, when missing.
# Idempotent and quiet when everything is already there; needs root (CI runs as root).
set -euo pipefail

packages=(
  genisoimage      # mkisofs reference + isoinfo
  isomd5sum        # implantisomd5 / checkisomd5
  xorriso          # reader cross-check
  libarchive-tools # bsdtar
  p7zip-full       # 7z
  nginx            # serves the static registry config in tests
  skopeo           # pulls from nginx and from the registry
  docker-registry  # real Registry API v2 server for pull tests
  rpm              # rpm -K, rpm -qp, rpm2cpio
  createrepo-c     # reference repodata
  dnf              # installs from our repodata
  cpio
  shellcheck       # lint:shell
  umoci            # unpacks built images
  ruby             # ruby -c on the Vagrantfile
  hyperfine        # benchmarks
  python3-yaml
  openssl          # a private CA for the TLS tests (buildchain-testkit)
  git              # SOURCE_DATE_EPOCH from HEAD, the trust tests' clones
  time             # GNU time: peak RSS of the hostile-server tests
  jq               # benchmark reports (ci/bench)
  bc               # benchmark arithmetic (ci/bench/pull.sh, e2e.sh)
  mount            # the iso9660 output tests mount small tmpfs file systems
  containerd       # pulls the ISO's images through nginx (a private instance per test)
  gnupg            # gpg: makes the signing tests' keys, checks SHA256SUM.asc and repomd.xml.asc
  python3-venv     # the virtual environment of the pinned Salt (below)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ci/setup.sh: missing packages (${missing[*]}) and not root: install them first" >&2
    exit 1
  fi
  echo "ci/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start services on install; tests start their own instances.
  for svc in nginx docker-registry containerd; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
    service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# Python tools, pinned, each in its own virtual environment under ~/.cache/buildchain:
# - salt: Salt (ci/salt-requirements.txt), where buildchain looks for salt-call when
#   SALT_CALL_BIN is not set;
# - spdx: spdx-tools' pyspdxtools (ci/spdx-requirements.txt), which validates SBOMs.
# Made again when the pins change. pip --no-deps: the requirements list every package.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/buildchain"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
for tool in salt spdx; do
  requirements="$PWD/ci/$tool-requirements.txt"
  venv="$cache/$tool"
  if cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    continue
  fi
  echo "ci/setup.sh: installing $tool into $venv"
  # A venv records its own path, so it is made in place; the copy of the requirements,
  # written last, marks it complete (an interrupted install is made again).
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-deps --no-cache-dir --disable-pip-version-check \
    -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
done
