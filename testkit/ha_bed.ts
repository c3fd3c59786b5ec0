/**
 * The HA pair's test bed: a client, two balancers (`lb1`, `lb2`) and a real server, each a
 * namespace, on three Linux bridges that live in a fifth (`sw`) namespace, so nothing is made
 * in the host's: `front` joins the client and both balancers' eth0 (the VIP floats there),
 * `back` both balancers' eth1 and the real server (the local address floats there), `sync`
 * the balancers' sync0 (session sync and nothing else). Unlike netns.ts's topology, the client
 * and the real server reach the floating addresses by ARP on their segment, so whichever
 * balancer holds them (keepalived decides) gets the traffic.
 *
 * The bed answers `exec` and `spawn` for `client` and `rs` as a topology does, so
 * hash_stream.ts and the other client tools run on it unchanged. `destroy` kills everything in
 * the namespaces and deletes them.
 *
 * @module
 */
import { deleteNetns, listNetns } from "./netns.ts";
import { type ExecResult, run, type RunOptions, spawnIn, type SpawnOptions } from "./proc.ts";

/** The bed's address plan (RFC 5737 TEST-NET-2 for the front, TEST-NET-3 for the back). */
export const HA_ADDRS = {
  client: "198.51.100.50",
  front: { lb1: "198.51.100.1", lb2: "198.51.100.2" },
  vip: "198.51.100.10",
  back: { lb1: "203.0.113.1", lb2: "203.0.113.2" },
  laddr: "203.0.113.201",
  rs: "203.0.113.11",
  sync: { lb1: "192.0.2.1", lb2: "192.0.2.2" },
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
    /** A veth from `role`'s `dev` (with `addr`/24) to a port of bridge `br`. */
    const port = async (role: HaRole, dev: string, addr: string, br: string) => {
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
      await ok(names[role], ["ip", "link", "set", dev, "up"]);
    };
    const a = HA_ADDRS;
    await port("client", "eth0", a.client, "front");
    await port("lb1", "eth0", a.front.lb1, "front");
    await port("lb2", "eth0", a.front.lb2, "front");
    await port("lb1", "eth1", a.back.lb1, "back");
    await port("lb2", "eth1", a.back.lb2, "back");
    await port("rs", "eth0", a.rs, "back");
    await port("lb1", "sync0", a.sync.lb1, "sync");
    await port("lb2", "sync0", a.sync.lb2, "sync");
    for (const n of Object.values(names)) await ok(n, ["ip", "link", "set", "lo", "up"]);
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
