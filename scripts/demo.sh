#!/usr/bin/env bash
# The demo: installs what it needs, builds the client/lb/rs namespaces, starts the balancer,
# pushes real HTTP through FULLNAT and prints what the real servers saw and the connection
# table. Everything it creates is deleted when it ends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec deno run -A scripts/demo.ts "$@"
