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
 * @module
 */

import type { DiversionSpec } from "../fullnat/types.ts";

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
  queueNum: number;
  /** `--queue-bypass`: accept packets while no process is bound to the queue. */
  failOpen: boolean;
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
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be 0..65535, got ${port}`);
  }
}

function checkProtocol(protocol: string): void {
  if (protocol !== "tcp" && protocol !== "udp") {
    throw new RangeError(`protocol must be tcp or udp, got '${protocol}'`);
  }
}

/**
 * The `-A` lines of both chains for `spec`, per family (deduplicated, in spec order).
 * Throws RangeError on an invalid address, port, protocol or prefix.
 */
export function buildRules(spec: DiversionSpec, opts: RuleOptions): Record<Family, string[]> {
  checkPrefix(opts.prefix);
  if (!Number.isInteger(opts.queueNum) || opts.queueNum < 0 || opts.queueNum > 65535) {
    throw new RangeError(`queue number must be 0..65535, got ${opts.queueNum}`);
  }
  const { match, divert } = chainNames(opts.prefix);
  const targets: Record<Family, Set<string>> = { ipv4: new Set(), ipv6: new Set() };
  const jump = `-j ${divert}`;
  for (const s of spec.services) {
    checkProtocol(s.protocol);
    checkPort(s.port);
    // Port 0 is a port-less (all ports) service, as LVS allows with persistence.
    const dport = s.port === 0 ? "" : ` --dport ${s.port}`;
    targets[familyOf(s.address)].add(
      `-A ${match} -d ${s.address} -p ${s.protocol}${dport} ${jump}`,
    );
  }
  for (const a of spec.localAddresses) {
    targets[familyOf(a)].add(`-A ${match} -d ${a} ${jump}`);
  }
  for (const r of spec.natRealServers) {
    checkProtocol(r.protocol);
    checkPort(r.port);
    const sport = r.port === 0 ? "" : ` --sport ${r.port}`;
    targets[familyOf(r.address)].add(
      `-A ${match} -s ${r.address} -p ${r.protocol}${sport} ${jump}`,
    );
  }
  const action = [
    `-A ${divert} -j CT --notrack`,
    `-A ${divert} -j NFQUEUE --queue-num ${opts.queueNum}${opts.failOpen ? " --queue-bypass" : ""}`,
  ];
  const nd = ND_ICMPV6_TYPES.map((t) => `-A ${match} -p ipv6-icmp --icmpv6-type ${t} -j RETURN`);
  return {
    ipv4: [...action, ...targets.ipv4],
    ipv6: [...action, ...nd, ...targets.ipv6],
  };
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

/** Reads our part out of `iptables -t raw -S` output. */
export function parseInstalled(text: string, prefix: string): InstalledState {
  const { match, divert } = chainNames(prefix);
  const ours = new Set([match, divert]);
  const state: InstalledState = { chains: [], hooks: 0, rules: [] };
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "-N" && ours.has(f[1])) state.chains.push(f[1]);
    else if (line.trim() === `-A PREROUTING -j ${match}`) state.hooks++;
    else if (f[0] === "-A" && ours.has(f[1])) state.rules.push(line.trim());
  }
  return state;
}

/**
 * A restore script that (re)creates both chains with exactly `rules` and hooks them into
 * PREROUTING unless a hook is already there. Declaring an existing chain with `--noflush`
 * flushes it (the explicit `-F` makes that independent of the backend), and the whole
 * script is one transaction: packets see either the old rules or the new ones.
 */
export function installScript(prefix: string, rules: string[], hooked: boolean): string {
  const { match, divert } = chainNames(prefix);
  const lines = [
    "*raw",
    `:${match} - [0:0]`,
    `:${divert} - [0:0]`,
    `-F ${match}`,
    `-F ${divert}`,
    ...rules,
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
