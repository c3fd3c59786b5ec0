#!/usr/bin/env bash
# The demo: installs what it needs, builds the client/lb/rs namespaces, starts the balancer,
# pushes real HTTP through FULLNAT and prints what the real servers saw and the connection
# table. Everything it creates is deleted when it ends, whatever happens: demo.ts tears down
# what it built, and should it die before doing so (killed, crashed), this script removes the
# namespaces named after its process and what still runs in them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh

demo_pid=""
sweep() {
  [[ -n "$demo_pid" ]] || return 0
  local ns pid
  # testkit/netns.ts names a topology's namespaces PREFIX<pid>r<hex>-ROLE.
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^fndemo${demo_pid}r[0-9a-f]{6}-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
    echo "demo.sh: removed namespace $ns left behind" >&2
  done
}
forward() { [[ -n "$demo_pid" ]] && kill -TERM "$demo_pid" 2>/dev/null || true; }
trap sweep EXIT
trap forward INT TERM

deno run -A --cached-only scripts/demo.ts "$@" &
demo_pid=$!
status=0
# A signal interrupts wait; wait again until the demo itself has finished cleaning up.
while true; do
  wait "$demo_pid" && status=0 || status=$?
  kill -0 "$demo_pid" 2>/dev/null || break
done
exit "$status"
