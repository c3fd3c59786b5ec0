/**
 * The iptables rules that divert FULLNAT traffic into the queue, as text for
 * `iptables-restore --noflush`, plus reading back what is installed. Pure functions: the
 * commands are run by {@link ./diversion.ts}.
 *
 * Layout, per address family, in the `raw` table (before conntrack sees the packet):
 *
 * ```
 * PREROUTING:      -j PREFIX                       (inserted first)
 * PREFIX:          <match one diverted target> -j PREFIX-DIVERT   (one rule per target)
 * PREFIX-DIVERT:   -j CT --notrack
 *                  -j NFQUEUE --queue-num N [--queue-bypass]
 * ```
 *
 * The action chain keeps one match per target (instead of repeating the match for the
 * NOTRACK and the NFQUEUE rule).
 *
 * With several workers (queue N+i read by worker i, see {@linkcode RuleOptions.workers}), the
 * targets jump to steering chains instead, and each worker has an action chain of its own:
 *
 * ```
 * PREFIX:     <service>         -j PREFIX-C   client -> VIP: by the client's source address
 *             <local address>   -j PREFIX-L   RS -> local address: by the local port slice
 *             <NAT real server> -j PREFIX-R   RS -> client (NAT): by the client's address
 * PREFIX-C:   -m u32 --u32 "SRC&MASK=LO:HI"     -j PREFIX-Wi   (one rule per worker)
 * PREFIX-R:   -m u32 --u32 "DST&MASK=LO:HI"     -j PREFIX-Wi   (the same buckets)
 * PREFIX-L:   -p tcp|udp --dport SLICE_i        -j PREFIX-Wi,  then -j PREFIX-W0
 * PREFIX-Wi:  -j CT --notrack
 *             -j NFQUEUE --queue-num N+i [--queue-bypass]
 * ```
 *
 * Why these keys: a session lives in the worker whose queue saw the client's first packet, so
 * every later packet of it, in both directions, must reach the same queue. The client side is
 * partitioned by the client address (not by its port) because that is the one thing both the
 * client's packets (source) and a NAT-mode real server's replies (destination) carry, and
 * because it keeps all connections of one client on one worker, which client persistence
 * (`-p`, per-worker templates) needs. `--queue-balance` cannot do this: it hashes source and
 * destination together, which sends the two directions of a NAT session to different queues.
 * FULLNAT replies carry only the local endpoint, so each worker hands out local ports from its
 * own slice of the range ({@linkcode portSlices}) and the slice routes the reply home, as DPVS
 * does with per-core local port pools.
 *
 * With the kernel fast path (`spec.offload`, `--offload established`), TCP is split: only a
 * client's SYN to a TCP service is NOTRACK-ed and queued in `raw`; every other TCP packet to a
 * service, a local address or from a NAT real server goes through conntrack. A packet of a
 * session the daemon handed to conntrack finds its entry and is translated by the kernel; any
 * other (no entry: with `nf_conntrack_tcp_loose=0` conntrack does not pick connections up, so
 * the packet is INVALID) is queued from `mangle` PREROUTING, which runs after conntrack, with
 * the same per-worker steering ({@linkcode buildOffloadRules}). One rule in `nat` registers
 * the namespace's NAT hooks, which apply the entries' DNAT and SNAT. UDP, ICMP and the rest
 * are diverted as without it.
 *
 * @module
 */

import type { DiversionSpec } from "../fullnat/types.ts";
import {
  DEFAULT_LOCAL_PORT_RANGE,
  isPort,
  isProtocol,
  PORT_MAX,
  PROTOCOL_CHOICES,
  PROTOCOLS,
} from "../vocab/mod.ts";

/** Address family of a rule set: iptables or ip6tables. */
export type Family = "ipv4" | "ipv6";

/** Names of our two chains. */
export interface ChainNames {
  /** Matches diverted targets; PREROUTING jumps here. */
  match: string;
  /** NOTRACK + NFQUEUE. */
  divert: string;
}

/** Rule-building options. */
export interface RuleOptions {
  prefix: string;
  /** The queue of worker 0; worker i reads `queueNum + i`. */
  queueNum: number;
  /** `--queue-bypass`: accept packets while no process is bound to the queue. */
  failOpen: boolean;
  /** Workers to steer traffic across, 1..{@linkcode MAX_WORKERS} (default 1: no steering). */
  workers?: number;
  /** The local port range that {@linkcode portSlices} splits across workers (default 1025-65535). */
  localPorts?: readonly [number, number];
}

/** Most workers the steering supports (bucket masks use at most the address's low 8 bits). */
export const MAX_WORKERS = 64;

/** Default local port range, as the engine's. */
const DEFAULT_LOCAL_PORTS = DEFAULT_LOCAL_PORT_RANGE;

/**
 * Worker i's share of the local port range: n contiguous, near-equal, non-overlapping slices
 * covering `range` exactly. Throws RangeError when the range has fewer ports than workers.
 */
export function portSlices(range: readonly [number, number], n: number): [number, number][] {
  checkWorkers(n);
  const [lo, hi] = range;
  const size = hi - lo + 1;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || size < n) {
    throw new RangeError(
      `local port range ${lo}-${hi} cannot be split across ${n} workers: it needs at least ` +
        `one port per worker`,
    );
  }
  const slices: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    slices.push([lo + Math.floor((i * size) / n), lo + Math.floor(((i + 1) * size) / n) - 1]);
  }
  return slices;
}

/**
 * How client addresses are bucketed: the worker of an address is the one whose
 * `[lo, hi]` range holds `address & mask` (of the address's last 32 bits).
 *
 * For a power-of-two worker count the mask is `n - 1`, so consecutive addresses alternate
 * between workers. Otherwise the mask keeps enough low bits for at least 4 buckets per worker
 * (each worker takes a contiguous run of buckets, so loads differ by at most one bucket in
 * four) while still one rule per worker.
 */
export function addressBuckets(n: number): { mask: number; ranges: [number, number][] } {
  checkWorkers(n);
  let buckets = 1;
  while (buckets < n) buckets *= 2;
  if (buckets !== n) buckets = Math.min(256, buckets * 4);
  const ranges: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    ranges.push([Math.ceil((i * buckets) / n), Math.ceil(((i + 1) * buckets) / n) - 1]);
  }
  return { mask: buckets - 1, ranges };
}

/** The worker that client address `address` (IPv4 text) is steered to, of `n`. */
export function workerOfAddress(address: string, n: number): number {
  if (familyOf(address) !== "ipv4" || address.includes("/")) {
    throw new RangeError(`not an IPv4 address: '${address}'`);
  }
  const low = Number(address.split(".")[3]);
  const { mask, ranges } = addressBuckets(n);
  return ranges.findIndex(([lo, hi]) => (low & mask) >= lo && (low & mask) <= hi);
}

function checkWorkers(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new RangeError(`workers must be a whole number from 1 to ${MAX_WORKERS}, got ${n}`);
  }
}

/** Neighbour discovery must never wait for (or be dropped by) the daemon. */
const ND_ICMPV6_TYPES = [133, 134, 135, 136, 137];

/** Validates a chain-name prefix; iptables chain names have at most 28 characters. */
export function checkPrefix(prefix: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,20}$/.test(prefix)) {
    throw new RangeError(
      `chain prefix must be 1-21 letters, digits or '_', starting with a letter: '${prefix}'`,
    );
  }
}

/** Our chain names for `prefix`. */
export function chainNames(prefix: string): ChainNames {
  return { match: prefix, divert: `${prefix}-DIVERT` };
}

/** Names of the steering chains used with several workers. */
export function steeringChains(prefix: string): {
  client: string;
  local: string;
  natReply: string;
  worker: (i: number) => string;
} {
  return {
    client: `${prefix}-C`,
    local: `${prefix}-L`,
    natReply: `${prefix}-R`,
    worker: (i) => `${prefix}-W${i}`,
  };
}

/** Offsets of the last 32 bits of the source and destination address, per family. */
const ADDRESS_WORD: Record<Family, { src: number; dst: number }> = {
  ipv4: { src: 12, dst: 16 },
  ipv6: { src: 20, dst: 36 },
};

const hex = (n: number) => `0x${n.toString(16)}`;

/** Matches a fragment that is not the first one (IPv4), or any fragment (IPv6). */
const FRAGMENT_MATCH: Record<Family, string> = { ipv4: "-f", ipv6: "-m frag" };

/** The ICMP protocol name of each family, as iptables and ip6tables spell it. */
const ICMP_NAME: Record<Family, string> = { ipv4: "icmp", ipv6: "ipv6-icmp" };

/**
 * u32 locations inside an ICMP error's quoted datagram (assumed to have no IP options or
 * extension headers, as the engine's own packets do not): the last 32 bits of the quoted
 * destination address, and an expression yielding the quoted source port. For IPv4 the
 * outer header length is read from the packet (`0>>22&0x3C@` jumps over it).
 */
const QUOTE_OFFSETS: Record<Family, { dst: number | string; sport: string }> = {
  // Outer header, 8 bytes of ICMP, then the quoted header: destination at 16, ports at 20.
  ipv4: { dst: "0>>22&0x3C@24", sport: "0>>22&0x3C@28>>16" },
  // 40-byte outer header, 8 bytes of ICMPv6, quoted header: destination's last word at 36.
  ipv6: { dst: 84, sport: "88>>16" },
};

/** Which family an address belongs to; throws on anything that is not an address. */
export function familyOf(address: string): Family {
  const [addr, len, extra] = address.split("/");
  if (extra !== undefined || (len !== undefined && !/^\d{1,3}$/.test(len))) {
    throw new RangeError(`not an address: '${address}'`);
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) {
    if (addr.split(".").some((o) => Number(o) > 255)) {
      throw new RangeError(`not an IPv4 address: '${address}'`);
    }
    if (len !== undefined && Number(len) > 32) throw new RangeError(`bad prefix: '${address}'`);
    return "ipv4";
  }
  if (addr.includes(":") && /^[0-9A-Fa-f:.]+$/.test(addr)) {
    if (len !== undefined && Number(len) > 128) throw new RangeError(`bad prefix: '${address}'`);
    return "ipv6";
  }
  throw new RangeError(`not an address: '${address}'`);
}

function checkPort(port: number): void {
  if (!isPort(port, 0)) {
    throw new RangeError(`port must be 0..${PORT_MAX}, got ${port}`);
  }
}

function checkProtocol(protocol: string): void {
  if (!isProtocol(protocol)) {
    throw new RangeError(`protocol must be ${PROTOCOL_CHOICES}, got '${protocol}'`);
  }
}

/**
 * The `-A` lines of our chains for `spec`, per family (deduplicated, in spec order).
 * Throws RangeError on an invalid address, port, protocol, prefix, queue or worker count.
 */
export function buildRules(spec: DiversionSpec, opts: RuleOptions): Record<Family, string[]> {
  checkPrefix(opts.prefix);
  const workers = opts.workers ?? 1;
  checkWorkers(workers);
  const last = opts.queueNum + workers - 1;
  if (!Number.isInteger(opts.queueNum) || opts.queueNum < 0 || last > 65535) {
    throw new RangeError(
      workers === 1
        ? `queue number must be 0..65535, got ${opts.queueNum}`
        : `queue numbers ${opts.queueNum}..${last} (one per worker) must lie in 0..65535`,
    );
  }
  const offload = spec.offload === true;
  const { match, divert } = chainNames(opts.prefix);
  const steer = steeringChains(opts.prefix);
  const many = workers > 1;
  const slices = many ? portSlices(opts.localPorts ?? DEFAULT_LOCAL_PORTS, workers) : [];
  const targets: Record<Family, Set<string>> = { ipv4: new Set(), ipv6: new Set() };
  const jump = (chain: string) => `-j ${many ? chain : divert}`;
  for (const s of spec.services) {
    checkProtocol(s.protocol);
    checkPort(s.port);
    // Port 0 is a port-less (all ports) service, as LVS allows with persistence.
    const dport = s.port === 0 ? "" : ` --dport ${s.port}`;
    // Offload: only the SYN skips conntrack; the rest meets it (the VIP's TCP RETURN below).
    const syn = offload && s.protocol === "tcp" ? " --syn" : "";
    targets[familyOf(s.address)].add(
      `-A ${match} -d ${s.address} -p ${s.protocol}${dport}${syn} ${jump(steer.client)}`,
    );
  }
  // Everything else sent to a VIP (ICMP, AH, ESP, ...) goes to the engine too: it translates
  // ICMP errors, leaves echo to the kernel and drops the rest with a count. TCP and UDP to
  // ports without a service stay with the kernel, which refuses them itself.
  for (const vip of new Set(spec.services.map((s) => s.address))) {
    const family = familyOf(vip);
    const t = targets[family];
    // Later fragments carry no port, so no service rule catches them; the engine drops and
    // counts them instead of leaving them to expire in the box's own reassembly.
    t.add(`-A ${match} -d ${vip} ${FRAGMENT_MATCH[family]} ${jump(steer.client)}`);
    t.add(`-A ${match} -d ${vip} -p tcp -j RETURN`);
    t.add(`-A ${match} -d ${vip} -p udp -j RETURN`);
    t.add(`-A ${match} -d ${vip} ${jump(steer.client)}`);
  }
  for (const a of spec.localAddresses) {
    // Offload: real servers' TCP to a local address meets conntrack (queued from mangle).
    if (offload) targets[familyOf(a)].add(`-A ${match} -d ${a} -p tcp -j RETURN`);
    targets[familyOf(a)].add(`-A ${match} -d ${a} ${jump(steer.local)}`);
  }
  for (const r of spec.natRealServers) {
    checkProtocol(r.protocol);
    checkPort(r.port);
    const family = familyOf(r.address);
    const sport = r.port === 0 ? "" : ` --sport ${r.port}`;
    // Offload: a NAT real server's TCP replies meet conntrack (queued from mangle).
    if (!(offload && r.protocol === "tcp")) {
      targets[family].add(
        `-A ${match} -s ${r.address} -p ${r.protocol}${sport} ${jump(steer.natReply)}`,
      );
    }
    // ICMP errors a NAT-mode real server sends the client about its traffic.
    targets[family].add(
      `-A ${match} -s ${r.address} -p ${ICMP_NAME[family]} ${jump(steer.natReply)}`,
    );
  }
  const bypass = opts.failOpen ? " --queue-bypass" : "";
  const action = (chain: string, queue: number) => [
    `-A ${chain} -j CT --notrack`,
    `-A ${chain} -j NFQUEUE --queue-num ${queue}${bypass}`,
  ];
  const nd = ND_ICMPV6_TYPES.map((t) => `-A ${match} -p ipv6-icmp --icmpv6-type ${t} -j RETURN`);
  if (!many) {
    return {
      ipv4: [...action(divert, opts.queueNum), ...targets.ipv4],
      ipv6: [...action(divert, opts.queueNum), ...nd, ...targets.ipv6],
    };
  }
  const steering = (family: Family) =>
    steeringRules(
      family,
      opts.prefix,
      workers,
      slices,
      (chain, i) => action(chain, opts.queueNum + i),
    );
  return {
    ipv4: [...steering("ipv4"), ...targets.ipv4],
    ipv6: [...steering("ipv6"), ...nd, ...targets.ipv6],
  };
}

/**
 * The steering chains of `workers` (> 1) workers for `family` (see the module doc), each
 * worker's own chain holding `action(chain, i)`.
 */
function steeringRules(
  family: Family,
  prefix: string,
  workers: number,
  slices: readonly [number, number][],
  action: (chain: string, i: number) => string[],
): string[] {
  const steer = steeringChains(prefix);
  const lines: string[] = [];
  for (let i = 0; i < workers; i++) lines.push(...action(steer.worker(i), i));
  const { mask, ranges } = addressBuckets(workers);
  const u32 = (offset: number | string, [lo, hi]: [number, number]) =>
    `-m u32 --u32 "${typeof offset === "number" ? hex(offset) : offset}&${hex(mask)}=${hex(lo)}${
      lo === hi ? "" : `:${hex(hi)}`
    }"`;
  const word = ADDRESS_WORD[family];
  const icmp = ICMP_NAME[family];
  const quote = QUOTE_OFFSETS[family];
  // An ICMP error about a session may come from a router, not the client: it is steered by
  // the client address it quotes (the quoted datagram went to the client).
  ranges.forEach((r, i) =>
    lines.push(`-A ${steer.client} -p ${icmp} ${u32(quote.dst, r)} -j ${steer.worker(i)}`)
  );
  ranges.forEach((r, i) =>
    lines.push(`-A ${steer.client} ${u32(word.src, r)} -j ${steer.worker(i)}`)
  );
  ranges.forEach((r, i) =>
    lines.push(`-A ${steer.natReply} ${u32(word.dst, r)} -j ${steer.worker(i)}`)
  );
  slices.forEach(([lo, hi], i) => {
    for (const p of PROTOCOLS) {
      lines.push(`-A ${steer.local} -p ${p} --dport ${lo}:${hi} -j ${steer.worker(i)}`);
    }
    // An ICMP error to a local address quotes the datagram we sent: its source port is the
    // local port, which names the worker.
    lines.push(
      `-A ${steer.local} -p ${icmp} -m u32 --u32 "${quote.sport}=${lo}:${hi}" -j ${
        steer.worker(i)
      }`,
    );
  });
  // Anything else to a local address (ICMP, a port outside the range, e.g. SSH) has no
  // session; worker 0 passes it on.
  lines.push(`-A ${steer.local} -j ${steer.worker(0)}`);
  return lines;
}

/** The rules of the fast path's other tables, per family (`spec.offload`). */
export interface OffloadRules {
  /** `mangle` PREROUTING: TCP of ours that conntrack found INVALID -> the worker's queue. */
  mangle: string[];
  /** `nat`: one rule, so the namespace's NAT hooks are registered and apply the entries. */
  nat: string[];
}

/**
 * The `mangle` and `nat` rules of the kernel fast path for `spec` (empty when `spec.offload`
 * is not set): in `mangle`, the chain `PREFIX` returns every packet conntrack did not find
 * INVALID, then matches the TCP targets of the raw rules (services, local addresses, NAT real
 * servers) and sends them to the same steering as in `raw`, whose worker chains only queue
 * (the packet has no conntrack entry to drop). In `nat`, `PREFIX` holds one RETURN.
 */
export function buildOffloadRules(
  spec: DiversionSpec,
  opts: RuleOptions,
): Record<Family, OffloadRules> {
  const none = { ipv4: { mangle: [], nat: [] }, ipv6: { mangle: [], nat: [] } };
  if (spec.offload !== true) return none;
  const workers = opts.workers ?? 1;
  // The raw rules' checks (prefix, queues, workers, addresses) apply unchanged.
  buildRules(spec, opts);
  const { match, divert } = chainNames(opts.prefix);
  const steer = steeringChains(opts.prefix);
  const many = workers > 1;
  const slices = many ? portSlices(opts.localPorts ?? DEFAULT_LOCAL_PORTS, workers) : [];
  const jump = (chain: string) => `-j ${many ? chain : divert}`;
  const targets: Record<Family, Set<string>> = { ipv4: new Set(), ipv6: new Set() };
  for (const s of spec.services) {
    if (s.protocol !== "tcp") continue;
    const dport = s.port === 0 ? "" : ` --dport ${s.port}`;
    targets[familyOf(s.address)].add(
      `-A ${match} -d ${s.address} -p tcp${dport} ${jump(steer.client)}`,
    );
  }
  for (const a of spec.localAddresses) {
    targets[familyOf(a)].add(`-A ${match} -d ${a} -p tcp ${jump(steer.local)}`);
  }
  for (const r of spec.natRealServers) {
    if (r.protocol !== "tcp") continue;
    const sport = r.port === 0 ? "" : ` --sport ${r.port}`;
    targets[familyOf(r.address)].add(
      `-A ${match} -s ${r.address} -p tcp${sport} ${jump(steer.natReply)}`,
    );
  }
  const bypass = opts.failOpen ? " --queue-bypass" : "";
  const queue = (chain: string, i: number) => [
    `-A ${chain} -j NFQUEUE --queue-num ${opts.queueNum + i}${bypass}`,
  ];
  const head = `-A ${match} -m conntrack ! --ctstate INVALID -j RETURN`;
  const mangle = (family: Family) =>
    targets[family].size === 0 ? [] : [
      ...(many ? steeringRules(family, opts.prefix, workers, slices, queue) : queue(divert, 0)),
      head,
      ...targets[family],
    ];
  const nat = [`-A ${match} -j RETURN`];
  return {
    ipv4: { mangle: mangle("ipv4"), nat },
    ipv6: { mangle: mangle("ipv6"), nat },
  };
}

/** The base chains of each table of the fast path that jump to our `PREFIX` chain. */
export const OFFLOAD_HOOKS = {
  mangle: ["PREROUTING"],
  nat: ["PREROUTING", "POSTROUTING"],
} as const;

/** What of ours is present in one family's `mangle` or `nat` table. */
export interface TableState {
  /** Our chains that exist. */
  chains: string[];
  /** The base chains that hold a `-j PREFIX` rule (once per rule). */
  hooks: string[];
  /** The rules of our chains, as `iptables -S` prints them. */
  rules: string[];
}

/** Reads our part out of `iptables -t TABLE -S` output. */
export function parseTable(text: string, prefix: string): TableState {
  const state: TableState = { chains: [], hooks: [], rules: [] };
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "-N" && isOurChain(prefix, f[1])) state.chains.push(f[1]);
    else if (
      f[0] === "-A" && !isOurChain(prefix, f[1]) && f.length === 4 && f[2] === "-j" &&
      f[3] === prefix
    ) state.hooks.push(f[1]);
    else if (f[0] === "-A" && isOurChain(prefix, f[1])) state.rules.push(line.trim());
  }
  return state;
}

/**
 * A restore script for `table` (`mangle` or `nat`) that (re)creates our chains with exactly
 * `rules`, hooks them into the table's base chains ({@linkcode OFFLOAD_HOOKS}) where `state`
 * has no hook yet, and deletes our chains the rules no longer use; one transaction.
 */
export function tableInstallScript(
  table: keyof typeof OFFLOAD_HOOKS,
  prefix: string,
  rules: string[],
  state: TableState,
): string {
  const { match } = chainNames(prefix);
  const chains = [match];
  for (const r of rules) {
    const chain = r.split(/\s+/)[1];
    if (!chains.includes(chain)) chains.push(chain);
  }
  const stale = state.chains.filter((c) => !chains.includes(c));
  const lines = [
    `*${table}`,
    ...chains.map((c) => `:${c} - [0:0]`),
    ...chains.map((c) => `-F ${c}`),
    ...stale.map((c) => `-F ${c}`),
    ...rules,
    ...stale.map((c) => `-X ${c}`),
  ];
  for (const hook of OFFLOAD_HOOKS[table]) {
    if (!state.hooks.includes(hook)) lines.push(`-I ${hook} 1 -j ${match}`);
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** A restore script that unhooks and deletes whatever of ours `state` says `table` holds. */
export function tableRemoveScript(
  table: keyof typeof OFFLOAD_HOOKS,
  prefix: string,
  state: TableState,
): string | undefined {
  if (state.hooks.length === 0 && state.chains.length === 0) return undefined;
  const { match } = chainNames(prefix);
  const lines = [`*${table}`];
  for (const hook of state.hooks) lines.push(`-D ${hook} -j ${match}`);
  for (const c of state.chains) lines.push(`-F ${c}`);
  for (const c of state.chains) lines.push(`-X ${c}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** What of ours is present in one family's raw table. */
export interface InstalledState {
  /** Our chains that exist. */
  chains: string[];
  /** How many `-A PREROUTING -j PREFIX` rules exist. */
  hooks: number;
  /** The rules of our chains, as `iptables -S` prints them. */
  rules: string[];
}

/** Whether `chain` is one of the chains `prefix` may own (match, action, steering, workers). */
export function isOurChain(prefix: string, chain: string): boolean {
  return chain === prefix ||
    (chain.startsWith(`${prefix}-`) &&
      /^(DIVERT|C|L|R|W[0-9]{1,2})$/.test(chain.slice(prefix.length + 1)));
}

/** Reads our part out of `iptables -t raw -S` output. */
export function parseInstalled(text: string, prefix: string): InstalledState {
  const { match } = chainNames(prefix);
  const state: InstalledState = { chains: [], hooks: 0, rules: [] };
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "-N" && isOurChain(prefix, f[1])) state.chains.push(f[1]);
    else if (line.trim() === `-A PREROUTING -j ${match}`) state.hooks++;
    else if (f[0] === "-A" && isOurChain(prefix, f[1])) state.rules.push(line.trim());
  }
  return state;
}

/**
 * A restore script that (re)creates our chains (the match chain and every chain `rules`
 * append to) with exactly `rules`, hooks them into PREROUTING unless a hook is already there,
 * and deletes chains of ours listed in `existing` that the new rules no longer use (left by a
 * run with more workers). Declaring an existing chain with `--noflush` flushes it (the
 * explicit `-F` makes that independent of the backend), and the whole script is one
 * transaction: packets see either the old rules or the new ones.
 */
export function installScript(
  prefix: string,
  rules: string[],
  hooked: boolean,
  existing: readonly string[] = [],
): string {
  const { match } = chainNames(prefix);
  const chains = [match];
  for (const r of rules) {
    const chain = r.split(/\s+/)[1];
    if (!chains.includes(chain)) chains.push(chain);
  }
  const stale = existing.filter((c) => !chains.includes(c));
  const lines = [
    "*raw",
    ...chains.map((c) => `:${c} - [0:0]`),
    ...chains.map((c) => `-F ${c}`),
    ...stale.map((c) => `-F ${c}`),
    ...rules,
    ...stale.map((c) => `-X ${c}`),
  ];
  if (!hooked) lines.push(`-I PREROUTING 1 -j ${match}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** A restore script that unhooks and deletes whatever of ours `state` says exists. */
export function removeScript(prefix: string, state: InstalledState): string | undefined {
  if (state.hooks === 0 && state.chains.length === 0) return undefined;
  const { match } = chainNames(prefix);
  const lines = ["*raw"];
  for (let i = 0; i < state.hooks; i++) lines.push(`-D PREROUTING -j ${match}`);
  for (const c of state.chains) lines.push(`-F ${c}`);
  for (const c of state.chains) lines.push(`-X ${c}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}
