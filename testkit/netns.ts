/**
 * The end-to-end test topology of docs/design.md section 5, built from network namespaces:
 *
 * ```
 *  client (eth0) ---- subnet A ---- (eth0) lb (eth1) ---- subnet B ---- (eth0) rs
 *  198.51.100.2         198.51.100.1 + VIPs      203.0.113.1 + local addrs     .11 .12 .13
 * ```
 *
 * Every namespace name carries a per-run prefix (`fn<pid>r<hex>-client`), so several test
 * files, daemons or benchmarks can each have their own copy at the same time. The veth pairs
 * are created directly inside the namespaces, so nothing is ever added to the host's own
 * namespace and deleting the namespaces removes everything.
 *
 * Kernel settings: the topology pins `net.ipv4.ip_forward=0` in `lb` (new namespaces inherit
 * the host's value, which would make results depend on the machine) unless `lbForwarding` is
 * set. Everything the data path needs (`ip_forward=1`, `rp_filter`, `accept_local`, the
 * iptables diversion) is left to the daemon under test, which must set it itself.
 *
 * Two options extend the picture (both off by default, so the default topology is unchanged):
 *
 * - `ipv6: true` adds the IPv6 plan of {@linkcode ADDRESS_PLAN} beside the IPv4 one
 *   (2001:db8:a::/64 with the VIPs, 2001:db8:b::/64 with the local addresses and real servers,
 *   all `nodad`); `rs` again has no route to the client's subnet, and `lb`'s
 *   `net.ipv6.conf.all.forwarding` is pinned like `ip_forward`.
 * - `router: { mtu }` puts a fourth namespace, `router`, on the wire between `lb` and `rs`
 *   (`lb eth1 -- eth0 router eth1 -- eth0 rs`). It forwards with a route MTU of `mtu` in both
 *   directions while every interface keeps 1500, so the real servers still announce a full
 *   MSS and only PMTU discovery (ICMP "fragmentation needed" / "packet too big" from the
 *   router) can make big packets fit. It answers ARP and neighbour solicitations for the hosts
 *   behind it (proxy ARP, proxy NDP), so every address stays where the plan puts it.
 *
 * @module
 */

import { ADDRESS_PLAN, realServerAddrs, realServerAddrsV6 } from "./address_plan.ts";
import { type ExecResult, run, type RunOptions, spawnIn, type SpawnOptions } from "./proc.ts";

export type { ExecResult, SpawnOptions } from "./proc.ts";

/** The roles of the topology; `router` exists only when built with the `router` option. */
export type Role = "client" | "lb" | "rs" | "router";

/** The roles every topology has, in creation order. */
export const ROLES: readonly Role[] = ["client", "lb", "rs"];

/** The router between `lb` and `rs` (see the module doc). */
export interface RouterOptions {
  /** Route MTU of the router's paths in both directions: 1280 to 1500. */
  mtu: number;
}

/** The project's namespace prefix; {@linkcode sweepStale} only ever touches names under it. */
export const DEFAULT_PREFIX = "fn";

/** Options of {@linkcode createTopology}. */
export interface TopologyOptions {
  /** Name prefix (letters, digits, `_`), default `fn`; the run id is appended to it. */
  prefix?: string;
  /** Virtual addresses put on lb's subnet A interface (as /32), default `[198.51.100.10]`. */
  vips?: readonly string[];
  /** Local addresses put on lb's subnet B interface (as /32), default .201 to .204. */
  localAddrs?: readonly string[];
  /** How many real-server addresses the `rs` namespace gets (.11, .12, ...), default 3. */
  rsCount?: number;
  /** Give `rs` a default route via lb's 203.0.113.1 (NAT mode needs it); default false. */
  rsDefaultViaLb?: boolean;
  /** Set `ip_forward=1` in lb (plain routing without the daemon); default false, pinned 0. */
  lbForwarding?: boolean;
  /** Delete stale namespaces of dead runs before creating (default true). */
  sweep?: boolean;
  /** Also assign the IPv6 plan (see the module doc); default false. */
  ipv6?: boolean;
  /** Put a router with a smaller route MTU between `lb` and `rs`; default none. */
  router?: RouterOptions;
}

/** The IPv6 addresses of a topology built with `ipv6: true`, without prefix lengths. */
export interface TopologyAddrsV6 {
  client: string;
  lbA: string;
  vips: string[];
  lbB: string;
  localAddrs: string[];
  realServers: string[];
}

/** The router's own addresses, one per side (ICMP errors come from these). */
export interface RouterAddrs {
  mtu: number;
  lbSide: string;
  rsSide: string;
  /** IPv6 ones, when the topology has IPv6. */
  lbSideV6?: string;
  rsSideV6?: string;
}

/** Addresses of a topology; every address is IPv4 dotted text without a prefix length. */
export interface TopologyAddrs {
  client: string;
  lbA: string;
  vips: string[];
  lbB: string;
  localAddrs: string[];
  realServers: string[];
  /** Present when the topology was built with `ipv6: true`. */
  v6?: TopologyAddrsV6;
  /** Present when the topology was built with a `router`. */
  router?: RouterAddrs;
}

/** Interface names inside the namespaces (the same in every topology). */
export const IFACES = {
  /** client's link to subnet A. */
  client: "eth0",
  /** lb's link to subnet A (the client side, VIPs). */
  lbA: "eth0",
  /** lb's link to subnet B (the real-server side, local addresses). */
  lbB: "eth1",
  /** rs's link to subnet B. */
  rs: "eth0",
  /** router's link to lb (only with a router). */
  routerLb: "eth0",
  /** router's link to rs (only with a router). */
  routerRs: "eth1",
} as const;

/** A live topology; call {@linkcode Topology.destroy} in a `finally`. */
export interface Topology {
  /** The run's unique prefix, e.g. `fn12345r0a1b2c`. */
  readonly id: string;
  /** Namespace names. */
  readonly client: string;
  readonly lb: string;
  readonly rs: string;
  /** The router's namespace name, when the topology has one. */
  readonly router?: string;
  /** All namespace names (three, or four with a router). */
  readonly names: readonly string[];
  readonly addrs: TopologyAddrs;
  readonly ifaces: typeof IFACES;
  /** The namespace name of a role, or the name itself when it is one of this topology's. */
  ns(ref: Role | string): string;
  /** Runs a command to completion inside a namespace (a role or one of {@linkcode names}). */
  exec(
    ns: Role | string,
    cmd: readonly string[],
    opts?: Omit<RunOptions, "netns">,
  ): Promise<ExecResult>;
  /**
   * Starts a command inside a namespace. Streams default to `"null"`; a piped stream must be
   * consumed by the caller. {@linkcode destroy} kills whatever is still running.
   */
  spawn(ns: Role | string, cmd: readonly string[], opts?: SpawnOptions): Deno.ChildProcess;
  /** Kills everything left in the namespaces and deletes them; safe to call twice. */
  destroy(): Promise<void>;
}

const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_]{0,15}$/;

function checkPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) throw new Error(`bad namespace prefix: ${prefix}`);
}

/** Pattern of the names this module creates under `prefix`: prefix, owner pid, `r`, 6 hex. */
function namePattern(prefix: string): RegExp {
  checkPrefix(prefix);
  return new RegExp(`^${prefix}([0-9]+)r[0-9a-f]{6}-(client|lb|rs|router)$`);
}

/** Names of all network namespaces known to `ip netns`. */
export async function listNetns(): Promise<string[]> {
  const res = await run(["ip", "netns", "list"], { check: true });
  // Lines look like "name" or "name (id: 3)".
  return res.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) => n !== "");
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the processes living in a namespace (none when it does not exist). */
export async function netnsPids(name: string): Promise<number[]> {
  const res = await run(["ip", "netns", "pids", name]);
  if (res.code !== 0) return [];
  return res.stdout.split(/\s+/).filter((s) => s !== "").map(Number);
}

/** Kills every process in the namespace, waits for them to go, then deletes it. */
export async function deleteNetns(name: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = await netnsPids(name);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone between listing and killing.
      }
    }
    await new Promise((r) => setTimeout(r, 40));
  }
  const res = await run(["ip", "netns", "del", name]);
  if (res.code !== 0 && (await listNetns()).includes(name)) {
    throw new Error(`cannot delete netns ${name}: ${res.stderr.trim()}`);
  }
}

/**
 * Deletes namespaces left behind by crashed runs: only names made by
 * {@linkcode createTopology} under `prefix` whose owning process no longer exists, so
 * topologies of runs still going on are never touched. Returns the names deleted.
 */
export async function sweepStale(prefix: string = DEFAULT_PREFIX): Promise<string[]> {
  const re = namePattern(prefix);
  const removed: string[] = [];
  for (const name of await listNetns()) {
    const m = re.exec(name);
    if (m === null) continue;
    const owner = Number(m[1]);
    if (owner === Deno.pid || pidAlive(owner)) continue;
    await deleteNetns(name);
    removed.push(name);
  }
  return removed;
}

function randomHex6(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs `ip` commands in one namespace through a single `ip -batch` process. */
async function ipBatch(netns: string, lines: string[]): Promise<void> {
  await run(["ip", "-n", netns, "-batch", "-"], { stdin: lines.join("\n") + "\n", check: true });
}

/** Waits until an interface reports operational state UP. */
async function waitOperUp(netns: string, dev: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await run(["ip", "-n", netns, "-o", "link", "show", "dev", dev], { check: true });
    if (/ state UP /.test(res.stdout)) return;
    if (Date.now() > deadline) {
      throw new Error(`${dev} in ${netns} did not come up: ${res.stdout.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A veth pair with one end in each namespace. */
async function vethPair(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
  await run(
    ["ip", "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB],
    { check: true },
  );
}

/** Smallest and largest router MTU: IPv6's minimum link MTU, and the links' own MTU. */
const ROUTER_MTU_RANGE = [1280, 1500] as const;

function checkRouterMtu(mtu: number): void {
  const [lo, hi] = ROUTER_MTU_RANGE;
  if (!Number.isInteger(mtu) || mtu < lo || mtu > hi) {
    throw new RangeError(
      `router MTU must be a whole number from ${lo} (the IPv6 minimum) to ${hi} (the links' ` +
        `own MTU), got ${mtu}`,
    );
  }
}

/**
 * The router's addresses, routes and proxying: the lb side is the whole of subnet B, the rs
 * side just the real servers' host routes; both routes carry the small MTU.
 */
async function configureRouter(netns: string, addrs: TopologyAddrs): Promise<void> {
  const r = addrs.router!;
  const v6 = addrs.v6;
  const lbIf = IFACES.routerLb;
  const rsIf = IFACES.routerRs;
  const v4 = ADDRESS_PLAN.v4;
  await ipBatch(netns, [
    "link set lo up",
    `addr add ${r.lbSide}/32 dev ${lbIf}`,
    `addr add ${r.rsSide}/32 dev ${rsIf}`,
    ...(v6
      ? [
        `addr add ${r.lbSideV6}/128 dev ${lbIf} nodad`,
        `addr add ${r.rsSideV6}/128 dev ${rsIf} nodad`,
      ]
      : []),
    `link set ${lbIf} up`,
    `link set ${rsIf} up`,
    `route add ${v4.subnetB} dev ${lbIf} mtu ${r.mtu}`,
    ...addrs.realServers.map((a) => `route add ${a}/32 dev ${rsIf} mtu ${r.mtu}`),
    ...(v6
      ? [
        `route add ${ADDRESS_PLAN.v6.subnetB} dev ${lbIf} mtu ${r.mtu}`,
        ...v6.realServers.map((a) => `route add ${a}/128 dev ${rsIf} mtu ${r.mtu}`),
        // Proxy NDP answers only for addresses listed one by one, per interface.
        ...v6.realServers.map((a) => `neigh add proxy ${a} dev ${lbIf}`),
        ...[v6.lbB, ...v6.localAddrs].map((a) => `neigh add proxy ${a} dev ${rsIf}`),
      ]
      : []),
  ]);
  const settings = [
    "net.ipv4.ip_forward=1",
    // Proxy ARP answers for any address routed out of another interface; without a delay,
    // so the first packet of a test is not held back by a random wait.
    ...[lbIf, rsIf].flatMap((i) => [
      `net.ipv4.conf.${i}.proxy_arp=1`,
      `net.ipv4.neigh.${i}.proxy_delay=0`,
    ]),
    ...(v6
      ? [
        "net.ipv6.conf.all.forwarding=1",
        ...[lbIf, rsIf].flatMap((i) => [
          `net.ipv6.conf.${i}.proxy_ndp=1`,
          `net.ipv6.neigh.${i}.proxy_delay=0`,
        ]),
      ]
      : []),
  ];
  await run(["sysctl", "-qw", ...settings], { netns, check: true });
}

/** Builds the topology (see the module doc); tears down whatever it made if any step fails. */
export async function createTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  const router = opts.router;
  if (router !== undefined) checkRouterMtu(router.mtu);
  if (opts.sweep ?? true) await sweepStale(prefix);

  const id = `${prefix}${Deno.pid}r${randomHex6()}`;
  const roles: Role[] = router === undefined ? [...ROLES] : ["client", "lb", "router", "rs"];
  const names: Partial<Record<Role, string>> = {};
  for (const role of roles) names[role] = `${id}-${role}`;
  const nameOf = (role: Role): string => {
    const name = names[role];
    if (name === undefined) throw new Error(`topology ${id} has no ${role} namespace`);
    return name;
  };
  const v4 = ADDRESS_PLAN.v4;
  const addrs: TopologyAddrs = {
    client: v4.client,
    lbA: v4.lbA,
    vips: [...(opts.vips ?? v4.vips)],
    lbB: v4.lbB,
    localAddrs: [...(opts.localAddrs ?? v4.localAddrs)],
    realServers: realServerAddrs(opts.rsCount),
  };
  const v6p = ADDRESS_PLAN.v6;
  if (opts.ipv6) {
    addrs.v6 = {
      client: v6p.client,
      lbA: v6p.lbA,
      vips: [...v6p.vips],
      lbB: v6p.lbB,
      localAddrs: [...v6p.localAddrs],
      realServers: realServerAddrsV6(opts.rsCount),
    };
  }
  if (router !== undefined) {
    const r = ADDRESS_PLAN.router;
    addrs.router = {
      mtu: router.mtu,
      lbSide: r.v4.lbSide,
      rsSide: r.v4.rsSide,
      ...(opts.ipv6 ? { lbSideV6: r.v6.lbSide, rsSideV6: r.v6.rsSide } : {}),
    };
  }
  const children = new Set<Deno.ChildProcess>();
  let destroyed = false;

  const ns = (ref: Role | string): string => {
    if (ref === "client" || ref === "lb" || ref === "rs" || ref === "router") return nameOf(ref);
    // Refuse foreign names so a typo can never run a command in someone else's namespace.
    if (Object.values(names).includes(ref)) return ref;
    throw new Error(`not a namespace of topology ${id}: ${ref}`);
  };

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    // Ask our own children politely first so daemons can remove their iptables rules.
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
    }
    const reaped = Promise.all([...children].map((c) => c.status.catch(() => {})));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((r) => timer = setTimeout(r, 2000));
    await Promise.race([reaped, grace]);
    clearTimeout(timer);
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
    await reaped;
    children.clear();
    const errors: string[] = [];
    for (const role of roles) {
      try {
        await deleteNetns(nameOf(role));
      } catch (e) {
        errors.push(String(e));
      }
    }
    if (errors.length > 0) throw new Error(errors.join("\n"));
  };

  const topo: Topology = {
    id,
    client: nameOf("client"),
    lb: nameOf("lb"),
    rs: nameOf("rs"),
    ...(router === undefined ? {} : { router: nameOf("router") }),
    names: roles.map(nameOf),
    addrs,
    ifaces: IFACES,
    ns,
    exec: (ref, cmd, runOpts = {}) => run(cmd, { ...runOpts, netns: ns(ref) }),
    spawn: (ref, cmd, spawnOpts) => {
      const child = spawnIn(ns(ref), cmd, spawnOpts);
      children.add(child);
      return child;
    },
    destroy,
  };

  try {
    for (const role of roles) {
      await run(["ip", "netns", "add", nameOf(role)], { check: true });
      // Link-local addresses too would be tentative for a second (DAD), and a tentative
      // address cannot answer neighbour solicitations: no DAD on any interface made here.
      if (opts.ipv6) {
        await run(
          ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"],
          { netns: nameOf(role), check: true },
        );
      }
    }
    const client = nameOf("client");
    const lb = nameOf("lb");
    const rs = nameOf("rs");
    // Create each veth pair straight inside its two namespaces: nothing touches the host's.
    await vethPair(client, IFACES.client, lb, IFACES.lbA);
    if (router === undefined) {
      await vethPair(lb, IFACES.lbB, rs, IFACES.rs);
    } else {
      await vethPair(lb, IFACES.lbB, nameOf("router"), IFACES.routerLb);
      await vethPair(nameOf("router"), IFACES.routerRs, rs, IFACES.rs);
    }

    const len = v4.prefixLength;
    const v6 = addrs.v6;
    // nodad: a tentative address cannot be used yet, and DAD would cost every test a second.
    const len6 = v6p.prefixLength;
    await ipBatch(client, [
      "link set lo up",
      `addr add ${addrs.client}/${len} dev ${IFACES.client}`,
      ...(v6 ? [`addr add ${v6.client}/${len6} dev ${IFACES.client} nodad`] : []),
      `link set ${IFACES.client} up`,
      `route add default via ${addrs.lbA}`,
      ...(v6 ? [`route add ::/0 via ${v6.lbA}`] : []),
    ]);
    await ipBatch(lb, [
      "link set lo up",
      `addr add ${addrs.lbA}/${len} dev ${IFACES.lbA}`,
      ...addrs.vips.map((a) => `addr add ${a}/32 dev ${IFACES.lbA}`),
      `addr add ${addrs.lbB}/${len} dev ${IFACES.lbB}`,
      ...addrs.localAddrs.map((a) => `addr add ${a}/32 dev ${IFACES.lbB}`),
      ...(v6
        ? [
          `addr add ${v6.lbA}/${len6} dev ${IFACES.lbA} nodad`,
          ...v6.vips.map((a) => `addr add ${a}/128 dev ${IFACES.lbA} nodad`),
          `addr add ${v6.lbB}/${len6} dev ${IFACES.lbB} nodad`,
          ...v6.localAddrs.map((a) => `addr add ${a}/128 dev ${IFACES.lbB} nodad`),
        ]
        : []),
      `link set ${IFACES.lbA} up`,
      `link set ${IFACES.lbB} up`,
    ]);
    await ipBatch(rs, [
      "link set lo up",
      ...addrs.realServers.map((a) => `addr add ${a}/${len} dev ${IFACES.rs}`),
      ...(v6 ? v6.realServers.map((a) => `addr add ${a}/${len6} dev ${IFACES.rs} nodad`) : []),
      `link set ${IFACES.rs} up`,
      ...(opts.rsDefaultViaLb ? [`route add default via ${addrs.lbB}`] : []),
      ...(opts.rsDefaultViaLb && v6 ? [`route add ::/0 via ${v6.lbB}`] : []),
    ]);
    await run(
      ["sysctl", "-qw", `net.ipv4.ip_forward=${opts.lbForwarding ? 1 : 0}`],
      { netns: lb, check: true },
    );
    if (v6) {
      await run(
        ["sysctl", "-qw", `net.ipv6.conf.all.forwarding=${opts.lbForwarding ? 1 : 0}`],
        { netns: lb, check: true },
      );
    }
    if (router !== undefined) await configureRouter(nameOf("router"), addrs);
    // veth carrier comes up asynchronously (linkwatch); packets sent before it are lost.
    await waitOperUp(client, IFACES.client);
    await waitOperUp(lb, IFACES.lbA);
    await waitOperUp(lb, IFACES.lbB);
    await waitOperUp(rs, IFACES.rs);
    if (router !== undefined) {
      await waitOperUp(nameOf("router"), IFACES.routerLb);
      await waitOperUp(nameOf("router"), IFACES.routerRs);
    }
  } catch (e) {
    await destroy().catch(() => {});
    throw e;
  }
  return topo;
}
