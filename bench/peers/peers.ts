/**
 * The peers the benchmark compares. Each gets a fresh topology (testkit/netns.ts) for
 * every run, sets itself up in the `lb` namespace, names the endpoints the workloads aim at,
 * and tears itself down; deleting the namespaces afterwards removes whatever is left.
 *
 * | id            | what forwards client -> real server                                      |
 * | ------------- | ------------------------------------------------------------------------ |
 * | `direct`      | plain kernel routing in lb; the client addresses the real server itself  |
 * | `conntrack`   | iptables nat table in lb: DNAT VIP -> RS, SNAT to the local addresses    |
 * | `haproxy`     | HAProxy, TCP mode; HTTP with `send-proxy-v2` to nginx's `proxy_protocol` |
 * | `passthrough` | src/nfqueue loop accepting everything; the client addresses the RS       |
 * | `passthrough-payload` | the same loop returning every packet unchanged as a payload verdict |
 * | `nat`         | `fullnat daemon`, real server added with `-m`                             |
 * | `fullnat`     | `fullnat daemon`, real server added with `-b`, local addresses `-z`       |
 * | `fullnat-w2`  | as `fullnat`, daemon started with `--workers 2`                            |
 * | `fullnat-offload` | as `fullnat` with `--offload established` (the kernel fast path)      |
 * | `fullnat-offload-w2` | as `fullnat-offload` with `--workers 2`                            |
 *
 * Only `direct`, `passthrough` and `nat` give the real server a route back to the client's
 * subnet (through lb); the others work without one, as FULLNAT deployments do.
 *
 * @module
 */

import { startBalancer } from "../../testkit/balancer.ts";
import type { Topology, TopologyOptions } from "../../testkit/netns.ts";
import { waitFor } from "../../testkit/wait.ts";
import { BURST_QUEUE_MAXLEN } from "./burst.ts";
import { type RealServer, RS_PORTS } from "./real_server.ts";
import type { Workload } from "./results.ts";
import type { Endpoint } from "./workloads.ts";

/** A peer set up in a topology. */
export interface PeerInstance {
  /** Where each workload sends traffic; a missing one is not supported (shown as n/a). */
  endpoints: Partial<Record<Workload, Endpoint>>;
  /** Undoes the setup; failures are reported, the namespaces are deleted anyway. */
  teardown(): Promise<void>;
  /** The daemon's `status --json` (fullnat peers only): counters per connection come from it. */
  status?(): Promise<DaemonStatus>;
}

/** The part of `fullnat status --json` the benchmark reads. */
export interface DaemonStatus {
  engine: { sessionsCreated?: number; offloaded?: number; offloadFallback?: number };
  queue: { received?: number; batches?: number };
  offload?: { step: { requests?: number; steps?: number } };
}

/** What a peer's setup gets. */
export interface PeerContext {
  topo: Topology;
  rs: RealServer;
  /** Extra `fullnat daemon` flags (fullnat peers only). */
  daemonArgs: readonly string[];
  /** Extra pass-through flags (e.g. `--gso` to mirror the daemon's queue settings). */
  passthroughArgs: readonly string[];
}

/** One peer. */
export interface Peer {
  id: string;
  /** Row label in tables and the chart. */
  label: string;
  topology: TopologyOptions;
  setup(ctx: PeerContext): Promise<PeerInstance>;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const PASSTHROUGH = new URL("./passthrough.ts", import.meta.url).pathname;

/** The endpoints of a peer at `host`; only a balancer with a queue can hold a burst. */
function endpointsAt(
  host: string,
  opts: { queued?: boolean } = {},
): Partial<Record<Workload, Endpoint>> {
  const e: Partial<Record<Workload, Endpoint>> = {
    bulk: { host, port: RS_PORTS.iperf },
    download: { host, port: RS_PORTS.iperf },
    conns: { host, port: RS_PORTS.http },
    udp: { host, port: RS_PORTS.iperf },
  };
  if (opts.queued) e.burst = { host, port: RS_PORTS.burst };
  return e;
}

async function check(topo: Topology, ns: "lb", cmd: string[]): Promise<void> {
  await topo.exec(ns, cmd, { check: true });
}

const direct: Peer = {
  id: "direct",
  label: "direct routing (no balancer)",
  topology: { rsDefaultViaLb: true, lbForwarding: true },
  setup({ rs }) {
    return Promise.resolve({ endpoints: endpointsAt(rs.addr), teardown: () => Promise.resolve() });
  },
};

const conntrack: Peer = {
  id: "conntrack",
  label: "kernel conntrack DNAT+SNAT",
  topology: { lbForwarding: true },
  async setup({ topo, rs }) {
    const vip = topo.addrs.vips[0];
    const lips = topo.addrs.localAddrs;
    const nat = (...rule: string[]) => check(topo, "lb", ["iptables", "-w", "-t", "nat", ...rule]);
    await nat(
      "-A",
      "PREROUTING",
      "-d",
      vip,
      "-p",
      "tcp",
      "-j",
      "DNAT",
      "--to-destination",
      rs.addr,
    );
    await nat(
      "-A",
      "PREROUTING",
      "-d",
      vip,
      "-p",
      "udp",
      "-j",
      "DNAT",
      "--to-destination",
      rs.addr,
    );
    await nat(
      "-A",
      "POSTROUTING",
      "-d",
      rs.addr,
      "-o",
      topo.ifaces.lbB,
      "-j",
      "SNAT",
      "--to-source",
      `${lips[0]}-${lips[lips.length - 1]}`,
    );
    return {
      endpoints: endpointsAt(vip),
      teardown: () => nat("-F"),
    };
  },
};

function haproxyConfig(vip: string, rs: string): string {
  return `# generated by bench/peers/peers.ts
global
  # Well under the file limit of a container (20000 here) that root cannot raise.
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend http
  bind ${vip}:${RS_PORTS.http}
  default_backend http
backend http
  server rs1 ${rs}:${RS_PORTS.httpProxyProtocol} send-proxy-v2
# iperf3 speaks no PROXY protocol: plain TCP mode for the bulk workload.
frontend bulk
  bind ${vip}:${RS_PORTS.iperf}
  default_backend bulk
backend bulk
  server rs1 ${rs}:${RS_PORTS.iperf}
`;
}

const haproxy: Peer = {
  id: "haproxy",
  label: "HAProxy TCP, send-proxy-v2",
  topology: {},
  async setup({ topo, rs }) {
    const vip = topo.addrs.vips[0];
    const dir = await Deno.makeTempDir({ prefix: "fullnat-bench-haproxy-" });
    await Deno.writeTextFile(`${dir}/haproxy.cfg`, haproxyConfig(vip, rs.addr));
    // Its own connections to the real server need the whole port range.
    await check(topo, "lb", ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535"]);
    await check(topo, "lb", ["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"]);
    const child = topo.spawn("lb", ["haproxy", "-db", "-f", `${dir}/haproxy.cfg`], {
      stderr: "piped",
    });
    let errText = "";
    const pump = (async () => {
      const dec = new TextDecoder();
      for await (const c of child.stderr) errText += dec.decode(c, { stream: true });
    })();
    let exited = false;
    child.status.then(() => exited = true);
    const teardown = async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await pump;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    };
    try {
      await waitFor(async () => {
        if (exited) {
          const alerts = errText.split("\n").filter((l) => /ALERT|error/i.test(l));
          throw new Error(`haproxy exited: ${(alerts.length ? alerts : [errText]).join(" / ")}`);
        }
        const ss = await topo.exec("lb", ["ss", "-Hltn"]);
        return ss.stdout.includes(`${vip}:${RS_PORTS.http} `) &&
          ss.stdout.includes(`${vip}:${RS_PORTS.iperf} `);
      }, { timeoutMs: 10_000, what: "haproxy listening" });
    } catch (e) {
      await teardown();
      throw e;
    }
    // HAProxy does not proxy UDP.
    const { bulk, conns } = endpointsAt(vip);
    return { endpoints: { bulk, conns }, teardown };
  },
};

/** The pass-through loop; `extra` flags on top of the benchmark's own. */
function passthroughPeer(id: string, label: string, extra: string[] = []): Peer {
  return {
    id,
    label,
    topology: { rsDefaultViaLb: true },
    setup: (ctx) => startPassthrough(ctx, extra),
  };
}

async function startPassthrough(
  { topo, rs, passthroughArgs }: PeerContext,
  extra: string[],
): Promise<PeerInstance> {
  const child = topo.spawn(
    "lb",
    [
      Deno.execPath(),
      "run",
      "-A",
      PASSTHROUGH,
      "--rs",
      rs.addr,
      "--queue-maxlen",
      String(BURST_QUEUE_MAXLEN),
      ...passthroughArgs,
      ...extra,
    ],
    { stdout: "piped", stderr: "piped" },
  );
  const dec = new TextDecoder();
  let out = "";
  let errText = "";
  const pumps = Promise.all([
    (async () => {
      for await (const c of child.stdout) out += dec.decode(c, { stream: true });
    })(),
    (async () => {
      for await (const c of child.stderr) errText += dec.decode(c, { stream: true });
    })(),
  ]);
  let exited = false;
  child.status.then(() => exited = true);
  const teardown = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 10_000);
    const s = await child.status;
    clearTimeout(timer);
    await pumps;
    if (s.code !== 0) throw new Error(`pass-through exited ${s.code}: ${errText.trim()}`);
  };
  try {
    await waitFor(() => {
      if (exited) throw new Error(`pass-through exited: ${errText.trim()}`);
      return out.includes("ready");
    }, { timeoutMs: 20_000, intervalMs: 50, what: "pass-through ready" });
  } catch (e) {
    await teardown().catch(() => {});
    throw e;
  }
  return { endpoints: endpointsAt(rs.addr, { queued: true }), teardown };
}

/**
 * A fullnat daemon peer: `-m` (NAT) or `-b` (FULLNAT) with extra daemon flags, run from this
 * checkout's `main.ts` or another's.
 */
function fullnatPeer(
  id: string,
  label: string,
  mode: "-m" | "-b",
  extra: string[] = [],
  main?: string,
): Peer {
  return {
    id,
    label,
    topology: { rsDefaultViaLb: mode === "-m" },
    async setup({ topo, rs, daemonArgs }) {
      const vip = topo.addrs.vips[0];
      const bal = await startBalancer(topo, [
        "--queue-maxlen",
        String(BURST_QUEUE_MAXLEN),
        ...daemonArgs,
        ...extra,
      ], { main });
      const teardown = async () => {
        const code = await bal.stop();
        if (code !== 0) throw new Error(`daemon exited ${code}: ${bal.log().trim().slice(-300)}`);
      };
      try {
        const services: Array<["-t" | "-u", number]> = [
          ["-t", RS_PORTS.http],
          ["-t", RS_PORTS.iperf],
          ["-u", RS_PORTS.iperf],
          // The second UDP sender's port; iperf3 also opens a TCP control connection to it.
          ["-t", RS_PORTS.iperf2],
          ["-u", RS_PORTS.iperf2],
          ["-u", RS_PORTS.burst],
        ];
        // Services first, then their servers and local addresses, each group concurrently.
        await Promise.all(services.map(([p, port]) => bal.ipvsadmOk("-A", p, `${vip}:${port}`)));
        const rest: string[][] = [];
        for (const [p, port] of services) {
          const svc = `${vip}:${port}`;
          rest.push(["-a", p, svc, "-r", `${rs.addr}:${port}`, mode]);
          if (mode === "-b") {
            for (const lip of topo.addrs.localAddrs) rest.push(["-P", p, svc, "-z", lip]);
          }
        }
        await Promise.all(rest.map((args) => bal.ipvsadmOk(...args)));
      } catch (e) {
        await teardown().catch(() => {});
        throw e;
      }
      return {
        endpoints: endpointsAt(vip, { queued: true }),
        teardown,
        status: () => bal.status() as Promise<unknown> as Promise<DaemonStatus>,
      };
    },
  };
}

/**
 * Every peer, in table order; `fullnat-w2` only when the daemon has `--workers`; with
 * `baseline` (another checkout of fullnat), its NAT and FULLNAT as `nat-before` and
 * `fullnat-before`, so a change is measured against the code before it in one run.
 */
export function allPeers(opts: { workers: boolean; baseline?: string }): Peer[] {
  const peers = [
    direct,
    conntrack,
    haproxy,
    passthroughPeer("passthrough", "NFQUEUE pass-through (src/nfqueue)"),
    passthroughPeer(
      "passthrough-payload",
      "NFQUEUE pass-through, packets returned",
      ["--return-payload"],
    ),
    fullnatPeer("nat", "fullnat NAT (-m)", "-m"),
    fullnatPeer("fullnat", "fullnat FULLNAT (-b)", "-b"),
  ];
  if (opts.baseline !== undefined) {
    const main = `${opts.baseline.replace(/\/$/, "")}/main.ts`;
    peers.push(
      fullnatPeer("nat-before", "fullnat NAT (-m), before", "-m", [], main),
      fullnatPeer("fullnat-before", "fullnat FULLNAT (-b), before", "-b", [], main),
    );
  }
  const offload = ["--offload", "established"];
  peers.push(
    fullnatPeer("fullnat-offload", "fullnat FULLNAT, offload", "-b", offload),
  );
  if (opts.workers) {
    peers.push(
      fullnatPeer("fullnat-w2", "fullnat FULLNAT, 2 workers", "-b", ["--workers", "2"]),
      fullnatPeer("fullnat-offload-w2", "fullnat FULLNAT, offload, 2 workers", "-b", [
        ...offload,
        "--workers",
        "2",
      ]),
    );
  }
  return peers;
}

/** Whether `fullnat daemon --help` lists a `--workers` flag. */
export async function daemonHasWorkers(): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "daemon", "--help"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return /--workers\b/.test(new TextDecoder().decode(out.stdout));
}
