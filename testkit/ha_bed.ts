/**
 * The HA pair's test bed: a client, two balancers (`lb1`, `lb2`) and a real server, each a
 * namespace, on three Linux bridges that live in a fifth (`sw`) namespace, so nothing is made
 * in the host's: `front` joins the client and both balancers' eth0 (the VIP floats there),
 * `back` both balancers' eth1 and the real server (the local address floats there), `sync`
 * the balancers' sync0 (session sync and nothing else). Unlike netns.ts's topology, the client
 * and the real server reach the floating addresses by ARP on their segment, so whichever
 * balancer holds them (keepalived decides) gets the traffic. The front and the back carry
 * IPv6 too (`HA_ADDRS.v6`, no DAD), reached by neighbour discovery the same way.
 *
 * The bed answers `exec` and `spawn` for `client` and `rs` as a topology does, so
 * hash_stream.ts and the other client tools run on it unchanged. `destroy` kills everything in
 * the namespaces and deletes them.
 *
 * Beside the bed, what the HA tests do to it: the `ha` section of each box and keepalived run
 * from provisioning's generator ({@linkcode startKeepalived}), who holds an address, a box's
 * links taken down and up, a box killed whole, and fleets of idle connections
 * (idle_fleet.ts) driven across a failover ({@linkcode startIdleFleet}).
 *
 * @module
 */
import { keepalivedConf } from "../src/provision/keepalived_conf.ts";
import type { HaConfig } from "../src/provision/types.ts";
import { IDLE_FLEET } from "./idle_fleet.ts";
import { deleteNetns, listNetns, netnsPids } from "./netns.ts";
import { type ExecResult, run, type RunOptions, spawnIn, type SpawnOptions } from "./proc.ts";

/** The bed's address plan (RFC 5737 TEST-NET-2 for the front, TEST-NET-3 for the back). */
export const HA_ADDRS = {
  client: "198.51.100.50",
  front: { lb1: "198.51.100.1", lb2: "198.51.100.2" },
  vip: "198.51.100.10",
  back: { lb1: "203.0.113.1", lb2: "203.0.113.2" },
  laddr: "203.0.113.201",
  /** The real server's default gateway, floating too: a NAT service's replies go back through it. */
  gateway: "203.0.113.254",
  rs: "203.0.113.11",
  sync: { lb1: "192.0.2.1", lb2: "192.0.2.2" },
  /** The same plan in IPv6 (RFC 3849), on the same segments: the front and the back. */
  v6: {
    client: "2001:db8:f::50",
    front: { lb1: "2001:db8:f::1", lb2: "2001:db8:f::2" },
    vip: "2001:db8:f::10",
    back: { lb1: "2001:db8:b::1", lb2: "2001:db8:b::2" },
    laddr: "2001:db8:b::201",
    rs: "2001:db8:b::11",
  },
} as const;

/** The namespaces of the bed, by role. */
export type HaRole = "client" | "lb1" | "lb2" | "rs" | "sw";

/** A live bed; call {@linkcode HaBed.destroy} in a `finally`. */
export interface HaBed {
  readonly names: Record<HaRole, string>;
  exec(role: string, cmd: readonly string[], opts?: Omit<RunOptions, "netns">): Promise<ExecResult>;
  spawn(role: string, cmd: readonly string[], opts?: SpawnOptions): Deno.ChildProcess;
  destroy(): Promise<void>;
}

/** Builds the bed under a name unique to this process; tears down what it made on failure. */
export async function createHaBed(prefix = "fnha"): Promise<HaBed> {
  const id = `${prefix}${Deno.pid}`;
  const names: Record<HaRole, string> = {
    client: `${id}-c`,
    lb1: `${id}-l1`,
    lb2: `${id}-l2`,
    rs: `${id}-rs`,
    sw: `${id}-sw`,
  };
  const children = new Set<Deno.ChildProcess>();
  const nsOf = (role: string): string => {
    const n = names[role as HaRole];
    if (n === undefined) throw new Error(`not a role of the HA bed: ${role}`);
    return n;
  };
  const destroy = async () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await Promise.all([...children].map((c) => c.status.catch(() => {})));
    children.clear();
    const existing = await listNetns();
    for (const n of Object.values(names)) if (existing.includes(n)) await deleteNetns(n);
  };
  const ok = (ns: string, cmd: string[]) => run(cmd, { netns: ns, check: true });
  try {
    for (const n of Object.values(names)) await run(["ip", "netns", "add", n], { check: true });
    const sw = names.sw;
    for (const br of ["front", "back", "sync"]) {
      await ok(sw, ["ip", "link", "add", br, "type", "bridge", "forward_delay", "0"]);
      await ok(sw, ["ip", "link", "set", br, "up"]);
    }
    // No duplicate address detection: a tentative address cannot be used yet, and a floating
    // one would wait a second each time it moves.
    for (const n of Object.values(names)) {
      await ok(n, [
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
      ]);
    }
    /** A veth from `role`'s `dev` (with `addr`/24, and `addr6`/64 when given) to bridge `br`. */
    const port = async (role: HaRole, dev: string, addr: string, br: string, addr6?: string) => {
      const peer = `${role}-${dev}`.slice(0, 15);
      await ok(sw, [
        "ip",
        "link",
        "add",
        peer,
        "type",
        "veth",
        "peer",
        "name",
        dev,
        "netns",
        names[role],
      ]);
      await ok(sw, ["ip", "link", "set", peer, "master", br, "up"]);
      await ok(names[role], ["ip", "addr", "add", `${addr}/24`, "dev", dev]);
      if (addr6 !== undefined) {
        await ok(names[role], ["ip", "addr", "add", `${addr6}/64`, "dev", dev, "nodad"]);
      }
      await ok(names[role], ["ip", "link", "set", dev, "up"]);
    };
    const a = HA_ADDRS;
    const b = a.v6;
    await port("client", "eth0", a.client, "front", b.client);
    await port("lb1", "eth0", a.front.lb1, "front", b.front.lb1);
    await port("lb2", "eth0", a.front.lb2, "front", b.front.lb2);
    await port("lb1", "eth1", a.back.lb1, "back", b.back.lb1);
    await port("lb2", "eth1", a.back.lb2, "back", b.back.lb2);
    await port("rs", "eth0", a.rs, "back", b.rs);
    await port("lb1", "sync0", a.sync.lb1, "sync");
    await port("lb2", "sync0", a.sync.lb2, "sync");
    for (const n of Object.values(names)) await ok(n, ["ip", "link", "set", "lo", "up"]);
    await ok(names.rs, ["ip", "route", "add", "default", "via", a.gateway]);
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    names,
    exec: (role, cmd, opts = {}) => run(cmd, { ...opts, netns: nsOf(role) }),
    spawn: (role, cmd, opts = {}) => {
      const c = spawnIn(nsOf(role), cmd, opts);
      children.add(c);
      return c;
    },
    destroy,
  };
}

/**
 * The configuration document both balancers run (what `config export` would write): services
 * on the VIP to the real server, same port, FULLNAT through the floating local address (or
 * NAT, the real server's replies through the floating gateway), and a master and a backup
 * sync daemon on sync0 (syncid 7).
 */
export function haDocument(
  services: readonly {
    protocol: "tcp" | "udp";
    port: number;
    method?: "fullnat" | "nat";
    /** On the IPv6 VIP, to the real server's IPv6 address (FULLNAT only). */
    v6?: boolean;
  }[],
): string {
  return JSON.stringify({
    version: 1,
    sync: [
      { role: "master", mcastInterface: "sync0", syncid: 7 },
      { role: "backup", mcastInterface: "sync0", syncid: 7 },
    ],
    services: services.map(({ protocol, port, method, v6 }) => {
      const a = v6 ? HA_ADDRS.v6 : HA_ADDRS;
      return {
        protocol,
        address: a.vip,
        port,
        scheduler: "rr",
        ...(method === "nat"
          ? { realServers: [{ address: a.rs, port, method: "nat" }] }
          : { realServers: [{ address: a.rs, port }], localAddresses: [a.laddr] }),
      };
    }),
  });
}

/** The balancers of the bed. */
export type HaBox = "lb1" | "lb2";

/** The interfaces of a balancer: the front, the back and the sync link. */
export const HA_LINKS = ["eth0", "eth1", "sync0"] as const;

/**
 * The `ha` section of one box, as its provisioning file would give it: VRRP on eth0, unicast
 * to `peer`, advert 1 s, nopreempt; the VIPs (IPv4 and IPv6) float on eth0, the local
 * addresses and the real server's gateway on eth1 (the IPv6 ones in keepalived's
 * `virtual_ipaddress_excluded`, an IPv4 advertisement carrying IPv4 only).
 */
export function haSection(priority: number, peer: string): HaConfig {
  return {
    interface: "eth0",
    virtualRouterId: 51,
    priority,
    advertInterval: 1,
    peer,
    authPass: "e2e-ha",
    preempt: false,
    vips: [
      { address: HA_ADDRS.vip, family: 4, interface: "eth0" },
      { address: HA_ADDRS.v6.vip, family: 6, interface: "eth0" },
    ],
    localAddresses: [
      { address: HA_ADDRS.laddr, family: 4, interface: "eth1" },
      { address: HA_ADDRS.gateway, family: 4, interface: "eth1" },
      { address: HA_ADDRS.v6.laddr, family: 6, interface: "eth1" },
    ],
  };
}

/** A keepalived running in a box. */
export interface Keepalived {
  /** What it printed so far. */
  log(): string;
  /** Stops it with SIGTERM (it gives its addresses up) and waits. */
  stop(): Promise<void>;
}

/**
 * Starts keepalived (VRRP only, in the foreground, its files in `dir`) in `box` with the
 * configuration provisioning's generator writes from `ha`.
 */
export async function startKeepalived(
  bed: HaBed,
  box: HaBox,
  dir: string,
  ha: HaConfig,
): Promise<Keepalived> {
  const conf = `${dir}/${box}-keepalived.conf`;
  await Deno.writeTextFile(conf, keepalivedConf(ha, { routerId: box }));
  const child = bed.spawn(box, [
    "keepalived",
    "--vrrp",
    "--dont-fork",
    "--log-console",
    "--log-detail",
    "--no-syslog",
    "-f",
    conf,
    "-p",
    `${dir}/${box}-keepalived.pid`,
    "-r",
    `${dir}/${box}-vrrp.pid`,
    "-c",
    `${dir}/${box}-checkers.pid`,
  ], { stdout: "piped", stderr: "piped" });
  let text = "";
  const dec = new TextDecoder();
  const pumps = [child.stdout, child.stderr].map(async (s) => {
    for await (const chunk of s) text += dec.decode(chunk, { stream: true });
  });
  return {
    log: () => text,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await Promise.allSettled(pumps);
    },
  };
}

/** Whether `box` holds `address` on any interface. */
export async function holds(bed: HaBed, box: HaBox, address: string): Promise<boolean> {
  const r = await bed.exec(box, ["ip", "-o", "addr", "show"]);
  return r.stdout.includes(` ${address}/`);
}

/** Sets every link of `box` (front, back, sync) down or up: a box cut off, or back. */
export async function setLinks(bed: HaBed, box: HaBox, up: boolean): Promise<void> {
  for (const dev of HA_LINKS) {
    await bed.exec(box, ["ip", "link", "set", dev, up ? "up" : "down"], { check: true });
  }
}

/** Kills every process of `box` with SIGKILL (its daemon and keepalived: a dead box); how many. */
export async function killBox(bed: HaBed, box: HaBox): Promise<number> {
  const pids = await netnsPids(bed.names[box]);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  return pids.length;
}

/** Reads a child's stdout line by line. */
function lineReader(child: Deno.ChildProcess): () => Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended: ${buffered}`);
      buffered += value;
    }
    const i = buffered.indexOf("\n");
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    return line;
  };
}

/** Starts idle_fleet.ts's TCP and UDP echo server on the real server's `host`; resolves once it listens. */
export async function startFleetServer(
  bed: HaBed,
  port: number,
  host: string = HA_ADDRS.rs,
): Promise<void> {
  const server = bed.spawn("rs", [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    IDLE_FLEET,
    "server",
    host,
    `${port}`,
  ], { stdout: "piped" });
  const line = await lineReader(server)();
  if (line !== "listening") throw new Error(`idle fleet server: ${line}`);
}

/** A fleet of idle connections (or UDP flows) from the client to the VIP. */
export interface IdleFleet {
  /** How many answered when opened. */
  readonly opened: number;
  /** Has each exchange a line again; how many answered (within 20 s). */
  again(): Promise<number>;
  /** Ends the client (idempotent). */
  close(): Promise<void>;
}

/** Opens `n` idle connections (`tcp`) or flows (`udp`) from the client to `host:port` (the VIP). */
export async function startIdleFleet(
  bed: HaBed,
  proto: "tcp" | "udp",
  port: number,
  n: number,
  host: string = HA_ADDRS.vip,
): Promise<IdleFleet> {
  const child = bed.spawn("client", [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    IDLE_FLEET,
    "client",
    proto,
    host,
    `${port}`,
    `${n}`,
  ], { stdin: "piped", stdout: "piped" });
  const next = lineReader(child);
  const count = (line: string, word: string) => {
    const m = new RegExp(`^${word} (\\d+)$`).exec(line);
    if (!m) throw new Error(`idle fleet: expected '${word} N', got '${line}'`);
    return Number(m[1]);
  };
  const opened = count(await next(), "open");
  let closed = false;
  return {
    opened,
    again: async () => {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      w.releaseLock();
      return count(await next(), "again");
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await child.stdin.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/**
 * Limits what `roles` send out of their `eth0` to `rate` (tc's token bucket): a transfer then
 * lasts long enough for a failover to land in its middle.
 */
export async function limitRate(bed: HaBed, roles: readonly string[], rate: string): Promise<void> {
  for (const role of roles) {
    await bed.exec(role, [
      "tc",
      "qdisc",
      "add",
      "dev",
      "eth0",
      "root",
      "tbf",
      "rate",
      rate,
      "burst",
      "64kb",
      "latency",
      "100ms",
    ], { check: true });
  }
}
