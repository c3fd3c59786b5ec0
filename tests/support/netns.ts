/**
 * The end-to-end test topology of DESIGN section 5, built from network namespaces:
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
 * @module
 */

import { ADDRESS_PLAN, realServerAddrs } from "./address_plan.ts";
import { type ExecResult, run, type RunOptions, spawnIn, type SpawnOptions } from "./proc.ts";

export type { ExecResult, SpawnOptions } from "./proc.ts";

/** The three roles of the topology. */
export type Role = "client" | "lb" | "rs";

/** The roles in creation order. */
export const ROLES: readonly Role[] = ["client", "lb", "rs"];

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
}

/** Addresses of a topology; every address is IPv4 dotted text without a prefix length. */
export interface TopologyAddrs {
  client: string;
  lbA: string;
  vips: string[];
  lbB: string;
  localAddrs: string[];
  realServers: string[];
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
} as const;

/** A live topology; call {@linkcode Topology.destroy} in a `finally`. */
export interface Topology {
  /** The run's unique prefix, e.g. `fn12345r0a1b2c`. */
  readonly id: string;
  /** Namespace names. */
  readonly client: string;
  readonly lb: string;
  readonly rs: string;
  /** All three namespace names. */
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
  return new RegExp(`^${prefix}([0-9]+)r[0-9a-f]{6}-(client|lb|rs)$`);
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

/** Pids of the processes living in a namespace. */
async function netnsPids(name: string): Promise<number[]> {
  const res = await run(["ip", "netns", "pids", name]);
  if (res.code !== 0) return [];
  return res.stdout.split(/\s+/).filter((s) => s !== "").map(Number);
}

/** Kills every process in the namespace, waits for them to go, then deletes it. */
async function deleteNetns(name: string): Promise<void> {
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

/** Builds the topology (see the module doc); tears down whatever it made if any step fails. */
export async function createTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  if (opts.sweep ?? true) await sweepStale(prefix);

  const id = `${prefix}${Deno.pid}r${randomHex6()}`;
  const names: Record<Role, string> = {
    client: `${id}-client`,
    lb: `${id}-lb`,
    rs: `${id}-rs`,
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
  const children = new Set<Deno.ChildProcess>();
  let destroyed = false;

  const ns = (ref: Role | string): string => {
    if (ref === "client" || ref === "lb" || ref === "rs") return names[ref];
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
    for (const role of ROLES) {
      try {
        await deleteNetns(names[role]);
      } catch (e) {
        errors.push(String(e));
      }
    }
    if (errors.length > 0) throw new Error(errors.join("\n"));
  };

  const topo: Topology = {
    id,
    client: names.client,
    lb: names.lb,
    rs: names.rs,
    names: ROLES.map((r) => names[r]),
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
    for (const role of ROLES) {
      await run(["ip", "netns", "add", names[role]], { check: true });
    }
    // Create each veth pair straight inside its two namespaces: nothing touches the host's.
    await run([
      "ip",
      "-n",
      names.client,
      "link",
      "add",
      IFACES.client,
      "type",
      "veth",
      "peer",
      "name",
      IFACES.lbA,
      "netns",
      names.lb,
    ], { check: true });
    await run([
      "ip",
      "-n",
      names.lb,
      "link",
      "add",
      IFACES.lbB,
      "type",
      "veth",
      "peer",
      "name",
      IFACES.rs,
      "netns",
      names.rs,
    ], { check: true });

    const len = v4.prefixLength;
    await ipBatch(names.client, [
      "link set lo up",
      `addr add ${addrs.client}/${len} dev ${IFACES.client}`,
      `link set ${IFACES.client} up`,
      `route add default via ${addrs.lbA}`,
    ]);
    await ipBatch(names.lb, [
      "link set lo up",
      `addr add ${addrs.lbA}/${len} dev ${IFACES.lbA}`,
      ...addrs.vips.map((a) => `addr add ${a}/32 dev ${IFACES.lbA}`),
      `addr add ${addrs.lbB}/${len} dev ${IFACES.lbB}`,
      ...addrs.localAddrs.map((a) => `addr add ${a}/32 dev ${IFACES.lbB}`),
      `link set ${IFACES.lbA} up`,
      `link set ${IFACES.lbB} up`,
    ]);
    await ipBatch(names.rs, [
      "link set lo up",
      ...addrs.realServers.map((a) => `addr add ${a}/${len} dev ${IFACES.rs}`),
      `link set ${IFACES.rs} up`,
      ...(opts.rsDefaultViaLb ? [`route add default via ${addrs.lbB}`] : []),
    ]);
    await run(
      ["sysctl", "-qw", `net.ipv4.ip_forward=${opts.lbForwarding ? 1 : 0}`],
      { netns: names.lb, check: true },
    );
    // veth carrier comes up asynchronously (linkwatch); packets sent before it are lost.
    await waitOperUp(names.client, IFACES.client);
    await waitOperUp(names.lb, IFACES.lbA);
    await waitOperUp(names.lb, IFACES.lbB);
    await waitOperUp(names.rs, IFACES.rs);
  } catch (e) {
    await destroy().catch(() => {});
    throw e;
  }
  return topo;
}
