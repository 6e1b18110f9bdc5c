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
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ci/setup.sh: missing packages (${missing[*]}) and not root: install them first" >&2
  exit 1
fi

echo "ci/setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start services on install; tests start their own instances.
for svc in nginx docker-registry; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
  service "$svc" stop >/dev/null 2>&1 || true
done
