#!/usr/bin/env bash
# Installs everything fullnat's development, tests and CI need on a fresh Debian 12 machine.
# Run as root. Idempotent: when every package and the right Deno are already present it
# touches neither apt nor npm, so reruns take well under a second.
set -euo pipefail

DENO_VERSION="2.9.6"

# Debian packages the data path, the tests and the benchmarks use.
#   libnetfilter-queue1 libmnl0  - loaded by the daemon through FFI
#   iptables iproute2 kmod procps - diversion rules, namespaces, modules, sysctl
#   nginx-light curl iperf3      - real servers and clients in the test topology
#   python3-scapy                - the independent packet oracle (testkit/oracle.py)
#   tcpdump tshark               - captures when a test needs to see the wire
#   iputils-ping                 - reachability checks of the topology
#   haproxy wrk                  - peers and load tool of the side-by-side benchmark (bench/peers)
#   keepalived                   - VRRP of the HA pair's failover test (tests/e2e/ha)
#   hping3                       - the full-speed spoofed SYN flood (tests/e2e/limits/flood_memory_e2e_test.ts)
#   mtools dosfstools util-linux - provisioning seed images: mkfs.vfat, mcopy, blkid (src/provision)
#   e2fsprogs                    - mkfs.ext4 for the non-FAT seed test (tests/unit/provision)
#   gcc libc6-dev                - build the RS-side TOA shim from source (rs/build.sh)
#   mmdebstrap podman qemu-utils - the daemonless appliance image build (image/build.sh)
#   qemu-system-x86 openssh-client - the appliance boot test (tests/e2e/image/boot_test.ts)
#   fdisk                        - sfdisk writes the appliance disk's partition table (image/build.sh)
#   conntrack                    - `conntrack -L` cross-checks the ctnetlink module (tests/e2e/kernel)
PACKAGES=(
  libnetfilter-queue1 libmnl0 iptables iproute2 curl nginx-light python3-scapy tcpdump
  tshark iperf3 procps kmod ca-certificates iputils-ping haproxy wrk keepalived hping3
  mtools dosfstools util-linux e2fsprogs
  gcc libc6-dev
  mmdebstrap podman qemu-utils qemu-system-x86 openssh-client
  fdisk conntrack
)

log="$(mktemp -t fullnat-setup.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

fail() {
  echo "setup.sh: $1" >&2
  if [[ -s "$log" ]]; then
    echo "--- last lines of the log ---" >&2
    tail -n 40 "$log" >&2
  fi
  exit 1
}

if [[ "$(id -u)" -ne 0 ]]; then
  fail "must run as root (it installs Debian packages)"
fi

# Prints the packages of "$@" that dpkg does not report as fully installed.
missing_packages() {
  local p status
  for p in "$@"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
    [[ "$status" == ii* ]] || printf '%s\n' "$p"
  done
}

apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [[ "$apt_updated" -eq 0 ]]; then
    apt-get -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1 || fail "apt-get update failed"
    apt_updated=1
  fi
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >>"$log" 2>&1 ||
    fail "apt-get install $* failed"
}

mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
if [[ "${#missing[@]}" -gt 0 ]]; then
  echo "setup.sh: installing ${missing[*]}"
  # tshark would otherwise ask whether non-root users may capture.
  echo "wireshark-common wireshark-common/install-setuid boolean false" |
    debconf-set-selections >>"$log" 2>&1 || fail "debconf-set-selections failed"
  apt_install "${missing[@]}"
fi

deno_ok() {
  command -v deno >/dev/null 2>&1 &&
    [[ "$(deno --version 2>/dev/null | head -n 1)" == "deno ${DENO_VERSION} "* ]]
}

if ! deno_ok; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup.sh: installing nodejs and npm"
    apt_install nodejs npm
  fi
  echo "setup.sh: installing deno ${DENO_VERSION} from npm"
  npm install -g --no-audit --no-fund --loglevel=error "deno@${DENO_VERSION}" >>"$log" 2>&1 ||
    fail "npm install -g deno@${DENO_VERSION} failed"
  # npm's global bin may not be on PATH (Debian's npm uses /usr/local): link it where it is.
  if ! command -v deno >/dev/null 2>&1; then
    npm_bin="$(npm prefix -g)/bin/deno"
    [[ -x "$npm_bin" ]] || fail "deno was installed but $npm_bin is missing"
    ln -sf "$npm_bin" /usr/local/bin/deno
  fi
  hash -r
  deno_ok || fail "deno --version does not report ${DENO_VERSION}: $(deno --version 2>&1 | head -n 1)"
fi

mapfile -t still_missing < <(missing_packages "${PACKAGES[@]}")
if [[ "${#still_missing[@]}" -gt 0 ]]; then
  fail "still not installed: ${still_missing[*]}"
fi

# The RS-side TOA shim (rs/build/libfullnat_toa.so): rebuilt only when its sources change.
bash "$(dirname "${BASH_SOURCE[0]}")/../rs/build.sh" >>"$log" 2>&1 || fail "building rs/ (the TOA shim) failed"

# Every dependency of every entry point (the daemon, the demo, tests, their helper scripts and the
# benchmarks) into Deno's cache now, while the registry is reachable: daemons and helpers later
# start inside network namespaces, where a missing package cannot be downloaded. --frozen refuses
# a deno.lock that does not match deno.json instead of rewriting it.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t entry_points < <(find main.ts scripts src tests testkit bench -name '*.ts' | sort)
deno cache --frozen "${entry_points[@]}" >>"$log" 2>&1 || fail "deno cache (fetching the npm dependencies) failed"
