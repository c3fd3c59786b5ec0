#!/usr/bin/env bash
# Connection-rate cost of the TOA shim: nginx on loopback inside a throwaway namespace, one new
# TCP connection per request (wrk, "Connection: close"), runs alternating without and with
# LD_PRELOAD so drifting machine load hits both alike. Prints requests/s per run and the
# medians. Connections carry no TOA here: this is the price every connection pays (saving the
# SYN in the kernel, reading it back at accept). Run as root: bash rs/bench.sh [ROUNDS] [SECONDS]
set -euo pipefail

rounds="${1:-3}"
secs="${2:-4}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="$(bash "$here/build.sh")"
ns="fnshimbench$$"
dir="$(mktemp -d -t fullnat-shim-bench.XXXXXX)"
nginx_pid=""
cleanup() {
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "$dir/www" "$dir/tmp"
echo hi >"$dir/www/index.html"
cat >"$dir/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $dir/nginx.pid; error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  server { listen 127.0.0.1:8080; root $dir/www; }
}
CONF

declare -A results=([plain]="" [shim]="")
for ((i = 0; i < rounds; i++)); do
  for mode in plain shim; do
    preload=""
    [[ "$mode" == shim ]] && preload="$lib"
    ip netns exec "$ns" env LD_PRELOAD="$preload" /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" \
      -e "$dir/error.log" &
    nginx_pid=$!
    for _ in $(seq 50); do
      ip netns exec "$ns" ss -Hltn | grep -q '127.0.0.1:8080' && break
      sleep 0.1
    done
    rate="$(ip netns exec "$ns" wrk -t1 -c20 -d"${secs}s" -H "Connection: close" \
      http://127.0.0.1:8080/ | awk '/Requests\/sec/ {print $2}')"
    kill "$nginx_pid"
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
    echo "round $((i + 1)) $mode: $rate requests/s (new connection each)"
    results[$mode]+="$rate "
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p="$(echo "${results[plain]}" | median)"
s="$(echo "${results[shim]}" | median)"
echo "median without shim: $p requests/s"
echo "median with shim:    $s requests/s ($(awk -v p="$p" -v s="$s" 'BEGIN {printf "%+.1f%%", (s-p)*100/p}'))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
