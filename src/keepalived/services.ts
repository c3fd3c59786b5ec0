/**
 * The services a read `virtual_server` stands for: one, or one per member of its
 * `virtual_server_group` (each with the same settings, real servers without a port taking the
 * member's). keepalived's defaults are applied here: scheduler wlc, forwarding NAT when no
 * `lb_kind` is set, real-server weight 1 (or the virtual server's `weight`), `inhibit_on_failure`
 * and check timing inherited from the virtual server, persistence 360 s when only a
 * granularity is given. What keepalived itself would refuse or silently change (no protocol,
 * `ops` on TCP, families that differ, a scheduler flag of another scheduler) is a problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { buildServices } from "./services.ts";
 * const at = { file: "k.conf", line: 1 };
 * const f = new Findings();
 * const [svc] = buildServices({ at, title: "virtual_server 192.0.2.10 80", flags: [],
 *   head: { kind: "address", address: "192.0.2.10", family: 4, port: 80 }, protocol: "tcp",
 *   method: { value: "fullnat", at }, realServers: [{ at, address: "10.0.0.1", family: 4, checks: [] }],
 * }, { vsGroups: new Map(), laddrGroups: new Map() }, f);
 * assert.deepEqual(svc, { protocol: "tcp", address: "192.0.2.10", port: 80, scheduler: "wlc",
 *   realServers: [{ address: "10.0.0.1", port: 80 }], localAddresses: [] });
 * ```
 *
 * @module
 */
import {
  DEFAULT_SCHEDULER,
  formatEndpoint,
  type ForwardMethod,
  normalizeSchedulerFlags,
  type SchedulerFlag,
  type SchedulerName,
} from "../vocab/mod.ts";
import type { Timeouts } from "../fullnat/timeouts.ts";
import { resolveCheck } from "./checks.ts";
import type { Findings, Where } from "./findings.ts";
import type { GroupAddress, LaddrGroup, VsGroup } from "./groups.ts";
import {
  dropUndefined,
  type ImportedRealServer,
  type ImportedService,
  type ImportedSorryServer,
} from "./output.ts";
import { netmaskPrefixLength } from "./ranges.ts";
import type { VsDraft } from "./virtual_server.ts";

/** The groups defined in the whole configuration, by name. */
export interface Groups {
  vsGroups: Map<string, VsGroup>;
  laddrGroups: Map<string, LaddrGroup>;
}

/** keepalived's scheduler when `lb_algo` is left out (IPVS_DEF_SCHED). */
export const KEEPALIVED_DEFAULT_SCHEDULER: SchedulerName = "wlc";

/** IPVS's persistence timeout, taken when a granularity is given without one. */
const IPVS_DEFAULT_PERSISTENCE = 360;

const familyName = (family: 4 | 6) => (family === 4 ? "IPv4" : "IPv6");

/** The scheduler flags of `vs`, or undefined with problems. */
function schedulerFlags(
  vs: VsDraft,
  scheduler: string,
  f: Findings,
): SchedulerFlag[] | undefined {
  const flags = new Set<SchedulerFlag>();
  let ok = true;
  for (const { value, at } of vs.flags) {
    let flag = value;
    if (value === "flag-1" || value === "flag-2") {
      // IPVS's SCHED1 and SCHED2 bits: fallback and port, for sh and mh alike.
      if (scheduler === "sh" || scheduler === "mh") {
        flag = `${scheduler}-${value === "flag-1" ? "fallback" : "port"}`;
      }
    }
    if (!flag.startsWith(`${scheduler}-`)) {
      f.problem(
        at,
        `${value}: applies to the ${
          value.startsWith("mh") ? "mh" : value.startsWith("sh") ? "sh" : "sh and mh"
        } scheduler only (this virtual server uses ${scheduler}; keepalived ignores it)`,
      );
      ok = false;
      continue;
    }
    flags.add(flag as SchedulerFlag);
  }
  return ok ? normalizeSchedulerFlags([...flags]) : undefined;
}

/** The prefix length of `persistence_granularity` for a service of `family`. */
function persistenceMask(vs: VsDraft, family: 4 | 6, f: Findings): number | undefined | null {
  if (vs.granularity === undefined) return undefined;
  const { value, at } = vs.granularity;
  if (family === 4) {
    const length = netmaskPrefixLength(value);
    if (length !== undefined) return length === 32 ? undefined : length;
    f.problem(
      at,
      `persistence_granularity ${value}: an IPv4 service takes a netmask with contiguous ` +
        `ones, like 255.255.255.0`,
    );
    return null;
  }
  const n = /^[0-9]{1,3}$/.test(value) ? Number(value) : NaN;
  if (n >= 1 && n <= 128) return n === 128 ? undefined : n;
  f.problem(at, `persistence_granularity ${value}: an IPv6 service takes a prefix length 1-128`);
  return null;
}

/** Reports a family mismatch at `at`; true when the families match. */
function sameFamily(
  what: string,
  family: 4 | 6,
  service: { protocol: string; address: string; port: number; family: 4 | 6 },
  at: Where,
  f: Findings,
): boolean {
  if (family === service.family) return true;
  f.problem(
    at,
    `${what} is ${familyName(family)} but service ${service.protocol} ` +
      `${formatEndpoint(service.address, service.port)} is ${familyName(service.family)}: a ` +
      `service, its real servers, sorry server and local addresses share one family`,
  );
  return false;
}

/** One address and port a virtual server serves. */
type Member = { address: string; family: 4 | 6; port: number };

/**
 * The service's own timeouts: Alibaba LVS's `est_timeout` is the TCP ESTABLISHED timeout
 * (a UDP service ignores it); DPVS's `establish_timeout` is that, or for UDP the UDP timeout.
 */
function serviceTimeouts(vs: VsDraft, f: Findings): Partial<Timeouts> | undefined {
  const est = vs.estTimeout;
  if (est === undefined) return undefined;
  if (vs.protocol === "tcp") return { tcpEstablished: est.value };
  if (est.keyword === "establish_timeout") return { udp: est.value };
  f.note(est.at, `${est.keyword} ignored: Alibaba LVS applies it to TCP services only`);
  return undefined;
}

/** The members `vs` stands for: its own address and port, or its group's. */
function members(
  vs: VsDraft,
  groups: Groups,
  f: Findings,
): Member[] {
  if (vs.head.kind === "address") return [vs.head];
  const group = groups.vsGroups.get(vs.head.name);
  if (group === undefined) {
    f.problem(vs.at, `${vs.title}: no virtual_server_group ${vs.head.name} is defined`);
    return [];
  }
  return group.members;
}

/** The local addresses of `vs` for a service of `family`, or undefined with problems. */
function localAddresses(
  vs: VsDraft,
  service: Member & { protocol: string },
  groups: Groups,
  f: Findings,
): string[] | undefined {
  if (vs.laddrGroup === undefined) return [];
  const group = groups.laddrGroups.get(vs.laddrGroup.value);
  if (group === undefined) {
    f.problem(
      vs.laddrGroup.at,
      `laddr_group_name ${vs.laddrGroup.value}: no local_address_group of that name is defined`,
    );
    return undefined;
  }
  const at = vs.laddrGroup.at;
  const ok = group.addresses.map((a: GroupAddress) =>
    sameFamily(
      `laddr_group_name ${group.name}: local address ${a.address}`,
      a.family,
      service,
      at,
      f,
    )
  ).every(Boolean);
  return ok ? group.addresses.map((a) => a.address) : undefined;
}

/**
 * The services `vs` stands for, in the document's terms; problems go to `f` (a service with a
 * problem may still come back, so that later checks run; the caller applies nothing then).
 */
export function buildServices(vs: VsDraft, groups: Groups, f: Findings): ImportedService[] {
  const out: ImportedService[] = [];
  if (vs.protocol === undefined) {
    f.problem(
      vs.at,
      `${vs.title}: no protocol (keepalived falls back to UDP with a warning); say protocol TCP or protocol UDP`,
    );
    return out;
  }
  if (vs.realServers.length === 0) {
    f.problem(vs.at, `${vs.title}: no real_server (keepalived ignores such a virtual server)`);
    return out;
  }
  if (vs.onePacket !== undefined && vs.protocol !== "udp") {
    f.problem(vs.onePacket, "ops: one-packet scheduling applies to UDP services only");
  }
  if (vs.synProxy !== undefined && vs.protocol !== "tcp") {
    f.problem(vs.synProxy, "syn_proxy: the SYN proxy applies to TCP services only");
  }
  const scheduler = vs.scheduler ?? KEEPALIVED_DEFAULT_SCHEDULER;
  const flags = schedulerFlags(vs, scheduler, f);
  const vsMethod = vs.method?.value ?? "nat";
  if (vs.method === undefined && vs.realServers.some((r) => r.method === undefined)) {
    f.note(vs.at, `${vs.title}: no lb_kind; keepalived's default, NAT, is used`);
  }
  if (
    vs.laddrGroup === undefined &&
    vs.realServers.some((r) => (r.method?.value ?? vsMethod) === "fullnat")
  ) {
    f.note(
      vs.at,
      `${vs.title}: FULLNAT without laddr_group_name: the service has no local addresses yet ` +
        `(add them with laddr add)`,
    );
  }
  if (
    vs.synProxy !== undefined && vs.protocol === "tcp" &&
    vs.realServers.some((r) => (r.method?.value ?? vsMethod) !== "fullnat")
  ) {
    f.problem(
      vs.synProxy,
      "syn_proxy: the SYN proxy proxies to FULLNAT real servers only (lb_kind FNAT)",
    );
  }
  for (const m of members(vs, groups, f)) {
    const service = { ...m, protocol: vs.protocol };
    if (vs.family !== undefined && vs.family.value !== m.family) {
      f.problem(
        vs.family.at,
        `ip_family ${vs.family.value === 4 ? "inet" : "inet6"}: service ${vs.protocol} ` +
          `${formatEndpoint(m.address, m.port)} is ${familyName(m.family)}`,
      );
    }
    const mask = persistenceMask(vs, m.family, f);
    const persistence = vs.persistence ??
      (vs.granularity !== undefined ? IPVS_DEFAULT_PERSISTENCE : undefined);
    const sorryServer = vs.sorry === undefined ? undefined : ((): ImportedSorryServer => {
      sameFamily(`sorry_server ${vs.sorry.address}`, vs.sorry.family, service, vs.sorry.at, f);
      const method = vs.sorryMethod?.value ?? vsMethod;
      return {
        address: vs.sorry.address,
        port: modePort(method, vs.sorry.address, vs.sorry.port, m.port, vs.sorry.at, f),
        method,
      };
    })();
    const seen = new Map<string, Where>();
    const realServers = vs.realServers.map((r): ImportedRealServer => {
      sameFamily(`real_server ${r.address}`, r.family, service, r.at, f);
      const method = r.method?.value ?? vsMethod;
      // A real server's own lvs_method brings its own encapsulation; else the service's.
      const tunnel = method === "tunnel" ? (r.method !== undefined ? r.tunnel : vs.tunnel) : {};
      const port = modePort(method, r.address, r.port, m.port, r.at, f);
      const key = formatEndpoint(r.address, port);
      const before = seen.get(key);
      if (before !== undefined) {
        f.problem(r.at, `real_server ${key} is already listed (line ${before.line})`);
      } else seen.set(key, r.at);
      const weight = r.weight ?? vs.weight ?? 1;
      const inhibit = r.inhibitOnFailure ?? vs.inhibitOnFailure ?? false;
      return dropUndefined({
        address: r.address,
        port,
        weight: weight === 1 ? undefined : weight,
        method: method === "fullnat" ? undefined : method,
        ...tunnel,
        upperThreshold: r.upperThreshold || undefined,
        lowerThreshold: r.lowerThreshold || undefined,
        inhibitOnFailure: inhibit || undefined,
        checks: r.checks.length === 0 ? undefined : r.checks.map((c) => resolveCheck(c, r, vs, f)),
      });
    });
    out.push(dropUndefined({
      protocol: vs.protocol,
      address: m.address,
      port: m.port,
      scheduler: scheduler === DEFAULT_SCHEDULER ? undefined : scheduler,
      schedulerFlags: flags === undefined || flags.length === 0 ? undefined : flags,
      persistence: persistence || undefined,
      persistenceMask: mask ?? undefined,
      timeouts: serviceTimeouts(vs, f),
      onePacket: vs.onePacket !== undefined && vs.protocol === "udp" ? true : undefined,
      synProxy: vs.synProxy !== undefined && vs.protocol === "tcp" ? true : undefined,
      quorum: vs.quorum === undefined || vs.quorum === 1 ? undefined : vs.quorum,
      hysteresis: vs.hysteresis || undefined,
      sorryServer,
      realServers,
      localAddresses: localAddresses(vs, service, groups, f) ?? [],
    }));
  }
  return out;
}

/**
 * A real server's port: its own, or the service's when it names none; always the service's for
 * direct routing and TUN, as IPVS sets it (the packet keeps its destination port, or is wrapped
 * whole), with a note when the configuration said another.
 */
function modePort(
  method: ForwardMethod,
  address: string,
  port: number | undefined,
  vport: number,
  at: Where,
  f: Findings,
): number {
  if (method !== "dr" && method !== "tunnel") return port ?? vport;
  if (port !== undefined && port !== vport) {
    f.note(
      at,
      method === "dr"
        ? `real_server ${formatEndpoint(address, port)}: direct routing keeps the virtual port ` +
          `${vport} (IPVS ignores the real server's port for DR)`
        : `${formatEndpoint(address, port)}: TUN reaches the real server on the service's port ` +
          `${vport} (the packet is not rewritten); imported as ${formatEndpoint(address, vport)}`,
    );
  }
  return vport;
}
