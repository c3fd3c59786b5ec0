/**
 * Counters that carry over a restart (README "Sessions outlive the daemon"): each packet
 * worker writes its engine counters and the traffic counters of its services and real servers
 * to `worker-N.counters` in the run directory once a second and when it stops, and a worker
 * that takes the sessions over adds them back, so `fullnat status` and `ipvsadm -L --stats`
 * go on from where they were. A `kill -9` loses at most the last second of counting; the
 * sessions themselves lose nothing (they are in the shared table).
 *
 * Counters are written by name, and services and servers by what they are (protocol, address,
 * port), so a new version that adds a counter or a configuration that changed across the
 * restart carries what still matches and starts the rest at zero.
 *
 * @module
 */
import type { Engine } from "../fullnat/engine.ts";
import { newStats } from "../fullnat/stats.ts";
import type { RealServer } from "../fullnat/service.ts";
import { serviceIdentity, type Stats } from "../fullnat/types.ts";
import { readIfPresent, removeWhole, writeWhole } from "./whole_file.ts";

/** The file's content. */
export interface CarriedCounters {
  version: 1;
  /** Engine counters by name. */
  engine: Record<string, number>;
  /** Service traffic counters by `proto address port`. */
  services: Record<string, Stats>;
  /** Real-server traffic counters by `proto address port > address port`. */
  servers: Record<string, Stats>;
}

/** What {@linkcode carryCounters} added back. */
export interface CarryReport {
  engine: number;
  services: number;
  servers: number;
}

/** The counters file of worker `index`. */
export function countersFile(dir: string, index: number): string {
  return `${dir}/worker-${index}.counters`;
}

/** A real server's identity: its service's, then its own address and port. */
const serverIdentity = (service: string, rs: RealServer) => `${service} > ${rs.address} ${rs.port}`;

/** `engine`'s counters now, live services and servers only (deleted ones are draining). */
export function snapshotCounters(engine: Engine): CarriedCounters {
  const out: CarriedCounters = {
    version: 1,
    engine: { ...engine.counters },
    services: {},
    servers: {},
  };
  for (const svc of engine.registry.liveServices()) {
    const name = serviceIdentity(svc.key);
    out.services[name] = { ...svc.stats };
    for (const rs of svc.servers) {
      if (!rs.removed) out.servers[serverIdentity(name, rs)] = { ...rs.stats };
    }
  }
  return out;
}

/** Adds `saved` to `engine`'s counters, by name; returns how many matched. */
export function carryCounters(engine: Engine, saved: CarriedCounters): CarryReport {
  const report: CarryReport = { engine: 0, services: 0, servers: 0 };
  const c = engine.counters as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(saved.engine ?? {})) {
    if (typeof c[k] === "number" && Number.isFinite(v) && v >= 0) {
      c[k] += v;
      report.engine++;
    }
  }
  const add = (into: Stats, from: Stats | undefined) => {
    if (from === undefined) return false;
    for (const k of Object.keys(newStats()) as (keyof Stats)[]) {
      const v = from[k];
      if (Number.isFinite(v) && v >= 0) into[k] += v;
    }
    return true;
  };
  for (const svc of engine.registry.liveServices()) {
    const name = serviceIdentity(svc.key);
    if (add(svc.stats, saved.services?.[name])) report.services++;
    for (const rs of svc.servers) {
      if (!rs.removed && add(rs.stats, saved.servers?.[serverIdentity(name, rs)])) {
        report.servers++;
      }
    }
  }
  return report;
}

/** Writes `counters` to `path` whole or not at all (a new file renamed over the old one). */
export function writeCounters(path: string, counters: CarriedCounters): void {
  writeWhole(path, new TextEncoder().encode(JSON.stringify(counters)));
}

/**
 * The counters at `path`, or undefined when there are none (a first start) or they cannot be
 * read (then the reason is in `problem`).
 */
export function readCounters(
  path: string,
): { counters?: CarriedCounters; problem?: string } {
  const read = readIfPresent(path);
  if (read.bytes === undefined) return read.problem === undefined ? {} : { problem: read.problem };
  try {
    const v = JSON.parse(new TextDecoder().decode(read.bytes));
    if (v?.version !== 1 || typeof v.engine !== "object") {
      return { problem: `${path} is not a counters file of this version` };
    }
    return { counters: v as CarriedCounters };
  } catch {
    return { problem: `${path} is not valid JSON` };
  }
}

/** Removes worker `index`'s counters file (after a deliberate stop). */
export function clearCounters(dir: string, index: number): void {
  removeWhole(countersFile(dir, index));
}
