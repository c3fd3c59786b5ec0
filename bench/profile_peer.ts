/**
 * Profiles one benchmark peer under one workload with `perf record -a -g`: builds the peer's
 * topology as bench/peers does, starts the workload, samples the whole machine while it runs,
 * and prints where the balancer's processes (everything in the `lb` namespace) spend their
 * time. JIT-compiled JavaScript is named through V8's perf map (`--perf-basic-prof`, passed
 * to every Deno process it starts through `DENO_V8_FLAGS`).
 *
 *   deno run -A bench/profile_peer.ts --peer fullnat --workload conns [--seconds 6]
 *     [--daemon-args "--workers 2"] [--out /tmp/fullnat-conns.perf]
 *     [--v8-flags "--no-turbo-inlining"]
 *
 * `--v8-flags` adds V8 flags to every Deno process; without inlining, the profile names each
 * function the optimizer would otherwise have folded into its caller (slower, but it says
 * where a caller's own time goes).
 *
 * Needs root and `perf`. Prints figures only; measurements for the record come from
 * bench/peers/run.ts.
 *
 * @module
 */

import { createTopology, type Topology } from "../testkit/netns.ts";
import { BENCH_PREFIX } from "./peers/bench.ts";
import { allPeers, type PeerInstance } from "./peers/peers.ts";
import { type RealServer, startRealServer } from "./peers/real_server.ts";
import type { Workload } from "./peers/results.ts";
import { runBulk, runConns, runUdp, SECOND_CLIENT_ADDR } from "./peers/workloads.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const peerId = flag("--peer", "fullnat");
const workload = flag("--workload", "conns") as Workload;
const seconds = Number(flag("--seconds", "6"));
const out = flag("--out", `/tmp/fullnat-profile-${peerId}-${workload}.perf`);
const daemonArgs = flag("--daemon-args", "").split(/\s+/).filter((w) => w !== "");
const params = {
  seconds,
  connections: 32,
  threads: 2,
  udpPayload: 64,
  bursts: 0,
  burstPerSender: 0,
};
if (!["bulk", "conns", "udp"].includes(workload)) {
  // A burst's balancer is frozen most of the time: a whole-machine profile would show the
  // senders, not the drain.
  throw new Error(`--workload must be bulk, conns or udp (got ${workload})`);
}

const peer = allPeers({ workers: true }).find((p) => p.id === peerId);
if (peer === undefined) throw new Error(`unknown peer ${peerId}`);
const v8Flags = flag("--v8-flags", "").split(/\s+/).filter((w) => w !== "");
Deno.env.set("DENO_V8_FLAGS", ["--perf-basic-prof", ...v8Flags].join(","));

let topo: Topology | undefined;
let rs: RealServer | undefined;
let inst: PeerInstance | undefined;
try {
  topo = await createTopology({ prefix: `${BENCH_PREFIX}p`, rsCount: 1, ...peer.topology });
  const c = (args: string[]) => topo!.exec("client", args, { check: true });
  await c(["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535"]);
  await c(["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"]);
  await c(["ip", "addr", "add", `${SECOND_CLIENT_ADDR}/24`, "dev", topo.ifaces.client]);
  rs = await startRealServer(topo);
  inst = await peer.setup({ topo, rs, daemonArgs, passthroughArgs: [] });
  const to = inst.endpoints[workload];
  if (to === undefined) throw new Error(`${peerId} has no ${workload} endpoint`);
  const perf = new Deno.Command("perf", {
    args: ["record", "-a", "-g", "-F", "999", "-o", out, "--", "sleep", String(seconds - 2)],
    stdout: "null",
    stderr: "null",
  });
  const run = workload === "bulk"
    ? runBulk(topo, to, params).then((g) => `${g.toFixed(2)} Gbit/s`)
    : workload === "conns"
    ? runConns(topo, to, params).then((f) => `${f.requestsPerSec.toFixed(0)} conn/s`)
    : runUdp(topo, to, rs, params).then((k) => `${k.toFixed(1)} kpkt/s`);
  await new Promise((r) => setTimeout(r, 1000));
  const rec = await perf.output();
  console.log(`${peerId} ${workload}: ${await run}; perf exited ${rec.code}; data in ${out}`);
} finally {
  await inst?.teardown().catch((e) => console.error(`teardown: ${e}`));
  await rs?.stop().catch(() => {});
  await topo?.destroy().catch(() => {});
}
