/**
 * The named groups a keepalived.conf defines at its top level and its virtual servers refer to:
 * `virtual_server_group NAME { IP PORT; IP-RANGE PORT; fwmark N }` (one entry per line; each
 * address of a range becomes a service of its own) and `local_address_group NAME { IP;
 * IP-RANGE; IP IFNAME }` (Alibaba LVS and DPVS; DPVS names the interface, which fullnat does
 * not need: the kernel routes local addresses like any other). Groups may be defined before or
 * after the virtual servers that use them, as in keepalived.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { readLaddrGroup } from "./groups.ts";
 * const at = { file: "k.conf", line: 1 };
 * const g = readLaddrGroup({ keyword: "local_address_group", args: ["lg"], at, block: [
 *   { keyword: "203.0.113.201-202", args: [], at }, { keyword: "2001:db8::9", args: ["dpdk0"], at },
 * ] }, new Findings());
 * assert.deepEqual(g?.addresses.map((a) => a.address), ["203.0.113.201", "203.0.113.202", "2001:db8::9"]);
 * ```
 *
 * @module
 */
import type { Findings, Where } from "./findings.ts";
import type { Statement } from "./parse.ts";
import { expandAddressRange } from "./ranges.ts";
import { readPortText, spelled } from "./values.ts";

/** An address with its family and the line that named it. */
export interface GroupAddress {
  address: string;
  family: 4 | 6;
  at: Where;
}

/** A `virtual_server_group` member: one address and port. */
export interface GroupMember extends GroupAddress {
  port: number;
}

/** A `virtual_server_group`. */
export interface VsGroup {
  name: string;
  at: Where;
  members: GroupMember[];
}

/** A `local_address_group`. */
export interface LaddrGroup {
  name: string;
  at: Where;
  addresses: GroupAddress[];
}

const familyOf = (address: string): 4 | 6 => (address.includes(":") ? 6 : 4);

/** The group's name and entries, or undefined (with problems) when its head is wrong. */
function groupHead(st: Statement, f: Findings): { name: string; entries: Statement[] } | undefined {
  if (st.args.length !== 1) {
    f.problem(st.at, `${spelled(st)}: ${st.keyword} takes one name`);
    return undefined;
  }
  if (st.block === undefined) {
    f.problem(st.at, `${st.keyword} ${st.args[0]} needs a { } block of entries`);
    return undefined;
  }
  return { name: st.args[0], entries: st.block };
}

/** An entry's words: the first is read as the statement's keyword. */
const words = (e: Statement) => [e.keyword, ...e.args];

/** Reads a `virtual_server_group`; fwmark entries are problems. */
export function readVsGroup(st: Statement, f: Findings): VsGroup | undefined {
  const head = groupHead(st, f);
  if (head === undefined) return undefined;
  const members: GroupMember[] = [];
  const seen = new Map<string, Where>();
  for (const e of head.entries) {
    const w = words(e);
    if (e.block !== undefined) {
      f.problem(e.at, `${w[0]}: a virtual_server_group entry takes no { } block`);
      continue;
    }
    if (w[0] === "fwmark") {
      f.problem(
        e.at,
        `${spelled(e)}: firewall-mark entries are not supported (a fullnat service is a ` +
          `protocol, address and port); list the addresses and ports instead`,
      );
      continue;
    }
    if (w.length !== 2) {
      f.problem(
        e.at,
        `${spelled(e)}: an entry is ADDRESS PORT or ADDRESS-RANGE PORT (one per line)`,
      );
      continue;
    }
    const range = expandAddressRange(w[0]);
    if (!range.ok) {
      f.problem(e.at, range.message);
      continue;
    }
    const port = readPortText(w[1], e, f);
    if (port === undefined) continue;
    for (const address of range.addresses) {
      const key = `${address} ${port}`;
      const before = seen.get(key);
      if (before !== undefined) {
        f.problem(e.at, `${address} ${port} is already in ${head.name} (line ${before.line})`);
        continue;
      }
      seen.set(key, e.at);
      members.push({ address, family: familyOf(address), port, at: e.at });
    }
  }
  return { name: head.name, at: st.at, members };
}

/** Reads a `local_address_group`; DPVS's interface names are dropped with one note. */
export function readLaddrGroup(st: Statement, f: Findings): LaddrGroup | undefined {
  const head = groupHead(st, f);
  if (head === undefined) return undefined;
  const addresses: GroupAddress[] = [];
  const seen = new Map<string, Where>();
  const interfaces = new Set<string>();
  for (const e of head.entries) {
    const w = words(e);
    if (e.block !== undefined || w.length > 2) {
      f.problem(e.at, `${spelled(e)}: an entry is ADDRESS, ADDRESS-RANGE or ADDRESS IFNAME`);
      continue;
    }
    if (w.length === 2) interfaces.add(w[1]);
    const range = expandAddressRange(w[0]);
    if (!range.ok) {
      f.problem(e.at, range.message);
      continue;
    }
    for (const address of range.addresses) {
      const before = seen.get(address);
      if (before !== undefined) {
        f.problem(e.at, `${address} is already in ${head.name} (line ${before.line})`);
        continue;
      }
      seen.set(address, e.at);
      addresses.push({ address, family: familyOf(address), at: e.at });
    }
  }
  if (interfaces.size > 0) {
    f.note(
      st.at,
      `local_address_group ${head.name}: interface names (${[...interfaces].join(", ")}) ` +
        `ignored; the kernel routes local addresses (assign them with ip addr add)`,
    );
  }
  return { name: head.name, at: st.at, addresses };
}
