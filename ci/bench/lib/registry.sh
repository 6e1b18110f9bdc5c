# shellcheck shell=bash
# Sourced by the benchmarks that need a registry. start_registry DIR starts Debian's
# docker-registry on a free 127.0.0.1 port with its storage under DIR/storage, waits until
# it listens, and sets $port and $registry_pid; stop_registry stops it.

start_registry() {
  local dir=$1
  mkdir -p "$dir/storage"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$port
YAML
  /usr/bin/docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "docker-registry did not listen on 127.0.0.1:$port (see $dir/registry.log)" >&2
  return 1
}

stop_registry() {
  kill "$registry_pid" 2>/dev/null || true
  wait "$registry_pid" 2>/dev/null || true
}

# finish_image DIR DIFF_IDS LAYERS: completes the skopeo `dir:` layout in DIR, whose layer
# blobs are already there, with its config (a minimal amd64 one, named by its digest), its
# Docker v2.2 manifest and the `version` file. DIFF_IDS: the comma-separated
# "sha256:…" diff ids; LAYERS: the comma-separated layer descriptors (JSON objects).
finish_image() {
  local dir=$1 diff_ids=$2 layers=$3 config
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff_ids" > "$dir/config.json"
  config=$(sha256sum "$dir/config.json" | cut -c1-64)
  mv "$dir/config.json" "$dir/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%s,"digest":"sha256:%s"},"layers":[%s]}' \
    "$(stat -c %s "$dir/$config")" "$config" "$layers" > "$dir/manifest.json"
  printf 'Directory Transport Version: 1.1\n' > "$dir/version"
}
