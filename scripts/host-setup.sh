#!/usr/bin/env bash
# Host prerequisites for the lab and the tests, from Debian packages only; idempotent.
# Starts dockerd when no engine answers (the build machines have no systemd as PID 1).
set -euo pipefail
# docker.io/debootstrap: the lab; nftables/iproute2/binutils: the packet matrix and networkd checks;
# restic/borgbackup/postgresql/sqlite3: the backup tests; prometheus/prometheus-alertmanager: promtool
# and amtool for the rule tests; shellcheck: ansible-test sanity's shell check; haproxy: haproxy -c and the LB tests.
packages=(docker.io debootstrap python3-venv rsync git iproute2 nftables binutils
          restic borgbackup postgresql sqlite3 prometheus prometheus-alertmanager shellcheck haproxy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "host-setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "host-setup: starting dockerd (no systemd here)" >&2
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "host-setup: dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi
