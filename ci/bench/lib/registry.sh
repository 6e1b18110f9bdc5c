# shellcheck shell=bash
# Sourced by the benchmarks that need a registry: start_registry DIR starts Debian's
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
