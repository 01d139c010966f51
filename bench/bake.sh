#!/usr/bin/env bash
# bench/bake.sh: `slipway bake --push` of three images on one base target against
# `docker buildx bake --push` (docker 28 + buildx 0.29 from /opt/docker-sid, its dockerd on its
# own socket), each into a fresh registry on a free loopback port.  Prints one line per tool:
#   bake TOOL rc=N wall_s=S
# Needs: busybox in the bench registry 127.0.0.1:5001 (../shared/bench/setup-buildx.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
SLIPWAY=${SLIPWAY:-$here/../slipway}
O=/opt/docker-sid
B=$(mktemp -d /tmp/slipway-bench-bake.XXXXXX)
reg_pid=
trap '[ -n "$reg_pid" ] && kill $reg_pid 2>/dev/null; [ -f $B/dockerd.pid ] && kill "$(cat $B/dockerd.pid)" 2>/dev/null; sleep 1; umount -l $B/root/overlay2 2>/dev/null; rm -rf $B' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
R=127.0.0.1:$port

registry() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; fi
  rm -rf $B/reg; mkdir -p $B/reg
  printf 'version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: %s }\nhttp:\n  addr: %s\n' "$B/reg" "$R" > $B/reg.yml
  docker-registry serve $B/reg.yml >/dev/null 2>&1 & reg_pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://$R/v2/" && return 0; sleep 0.05; done
}

mkdir -p $B/w/base $B/w/app
printf 'FROM 127.0.0.1:5001/busybox\nRUN mkdir -p /opt/base && for i in $(seq 1 200); do head -c 65536 /dev/urandom > /opt/base/f$i; done\n' > $B/w/base/Dockerfile
printf 'FROM base\nARG N\nRUN mkdir -p /app && for i in $(seq 1 50); do head -c 65536 /dev/urandom > /app/f$i; done && echo $N > /app/n\n' > $B/w/app/Dockerfile
cat > $B/w/docker-bake.hcl <<HCL
target "base" {
  context = "base"
  network = "host"
}
target "_app" {
  context  = "app"
  network  = "host"
  contexts = { base = "target:base" }
}
target "one" {
  inherits = ["_app"]
  args = { N = "1" }
  tags = ["$R/bench/one:latest"]
}
target "two" {
  inherits = ["_app"]
  args = { N = "2" }
  tags = ["$R/bench/two:latest"]
}
target "three" {
  inherits = ["_app"]
  args = { N = "3" }
  tags = ["$R/bench/three:latest"]
}
group "default" {
  targets = ["one", "two", "three"]
}
HCL

# slipway
registry
start=$(date +%s.%N)
(cd $B/w && "$SLIPWAY" bake --progress=quiet --state-dir $B/state --allow network.host --push) > $B/slipway.log 2>&1; rc=$?
end=$(date +%s.%N)
awk -v rc=$rc -v s=$start -v e=$end 'BEGIN{printf "bake slipway rc=%d wall_s=%.2f\n", rc, e-s}'
[ $rc -eq 0 ] || tail -5 $B/slipway.log >&2

# buildx, its daemon started before the clock
registry
mkdir -p $B/cfg/cli-plugins && ln -sf $O/usr/libexec/docker/cli-plugins/docker-buildx $B/cfg/cli-plugins/docker-buildx
printf '{"iptables": false, "ip6tables": false, "ip-masq": false, "bridge": "none", "storage-driver": "overlay2", "data-root": "%s", "exec-root": "%s", "pidfile": "%s", "hosts": ["unix://%s"], "features": {"containerd-snapshotter": false}}\n' \
  "$B/root" "$B/exec" "$B/dockerd.pid" "$B/docker.sock" > $B/daemon.json
export DOCKER_HOST=unix://$B/docker.sock DOCKER_CONFIG=$B/cfg DOCKER_BUILDKIT=1
( PATH=$O/usr/bin:$O/usr/sbin:$PATH setsid dockerd --config-file $B/daemon.json > $B/dockerd.log 2>&1 & )
for _ in $(seq 1 150); do [ -S $B/docker.sock ] && $O/usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.1; done
start=$(date +%s.%N)
(cd $B/w && $O/usr/bin/docker buildx bake --progress=quiet --provenance=false --allow network.host --push) > $B/buildx.log 2>&1; rc=$?
end=$(date +%s.%N)
awk -v rc=$rc -v s=$start -v e=$end 'BEGIN{printf "bake buildx rc=%d wall_s=%.2f\n", rc, e-s}'
[ $rc -eq 0 ] || tail -5 $B/buildx.log >&2
