/**
 * The hashing schedulers sh, dh and mh: a new connection goes to the server that owns the
 * table entry its hash falls in (the client address for sh and mh, with the client port when
 * the service has the port flag; the virtual address for dh). The tables are built here when
 * the configuration changes ({@linkcode rebuildSchedule}: servers added or removed, weights,
 * scheduler, flags or table size edited), never per packet, and looking one up allocates
 * nothing.
 *
 * A table entry whose server has weight 0, or is over its upper connection threshold (IPVS's
 * `is_unavailable()` of sh and mh, dh's overload check), gives no server, unless the service
 * has the fallback flag: then the client tries entries in its own pseudo-random order
 * ({@linkcode probeBucket}) until one has a server it may use, so the clients of a quiesced server spread over
 * all the others in proportion to their entries and no other client moves. After
 * {@linkcode PROBES} tries (when almost every entry is unavailable) it takes the next available
 * entry in table order, so a fallback finds a server whenever one is available.
 *
 * @module
 */
import { SCHEDULER_FLAG_TABLE, type SchedulerFlag } from "../vocab/mod.ts";
import { buildBucketTable } from "./bucket_table.ts";
import { buildMaglevTable } from "./maglev.ts";
import {
  bucketOf,
  hashV4,
  hashV6,
  probeBucket,
  SEED_OFFSET,
  SEED_SKIP,
  withPort,
} from "./scheduler_hash.ts";
import { type RealServer, schedulable, type Service } from "./service.ts";

/** `Service.schedFlags` bit: send the clients of an unavailable server elsewhere. */
export const SCHED_FALLBACK = 1;
/** `Service.schedFlags` bit: hash the client port with the client address. */
export const SCHED_PORT = 2;

/** The flag bits of flag names (sh-port and mh-port are one bit, as in IPVS). */
export function schedFlagBits(flags: readonly SchedulerFlag[]): number {
  let bits = 0;
  for (const f of flags) {
    const entry = SCHEDULER_FLAG_TABLE.find((e) => e.name === f);
    if (entry?.bit === "fallback") bits |= SCHED_FALLBACK;
    if (entry?.bit === "port") bits |= SCHED_PORT;
  }
  return bits;
}

/** The flag names of `bits` for `scheduler` (none for a scheduler without flags). */
export function schedFlagNames(scheduler: string, bits: number): SchedulerFlag[] {
  return SCHEDULER_FLAG_TABLE.filter((e) =>
    e.scheduler === scheduler &&
    (bits & (e.bit === "fallback" ? SCHED_FALLBACK : SCHED_PORT)) !== 0
  ).map((e) => e.name);
}

const NO_TABLE = new Int32Array(0);
/** Pseudo-random tries of a fallback before it walks the table in order. */
export const PROBES = 32;

/** The hash of a server's address and port for its Maglev permutation. */
function serverHash(rs: RealServer, seed: number): number {
  const h = rs.addr6 ? hashV6(rs.addr6, 0, seed) : hashV4(rs.addr, seed);
  return withPort(h, rs.port);
}

/** Rebuilds the scheduler state of `svc` after a change of its servers or settings. */
export function rebuildSchedule(svc: Service): void {
  const servers = svc.servers;
  svc.schedAvailable = servers.reduce((n, rs) => n + (rs.weight > 0 ? 1 : 0), 0);
  switch (svc.scheduler) {
    case "sh":
    case "dh":
      svc.schedTable = buildBucketTable(servers);
      return;
    case "mh":
      svc.schedTable = buildMaglevTable(
        servers.map((rs) => ({
          offsetHash: serverHash(rs, SEED_OFFSET),
          skipHash: serverHash(rs, SEED_SKIP),
          // A server out of its service (health, sorry server) holds no place, as if deleted.
          weight: rs.listed ? rs.lastWeight : 0,
        })),
        svc.mhTableSize,
      );
      return;
    default:
      svc.schedTable = NO_TABLE;
  }
}

/** The server of hash `h` in the service's table, with the fallback walk if flagged. */
export function scheduleHashed(svc: Service, h: number): RealServer | undefined {
  const table = svc.schedTable;
  const size = table.length;
  if (size === 0 || svc.schedAvailable === 0) return undefined;
  const first = table[bucketOf(h, size)];
  if (first < 0) return undefined;
  const servers = svc.servers;
  if (schedulable(servers[first])) return servers[first];
  if ((svc.schedFlags & SCHED_FALLBACK) === 0) return undefined;
  let at = 0;
  for (let k = 1; k <= PROBES; k++) {
    at = probeBucket(h, k, size);
    const i = table[at];
    if (i >= 0 && schedulable(servers[i])) return servers[i];
  }
  for (let k = 1; k < size; k++) {
    if (++at === size) at = 0;
    const i = table[at];
    if (i >= 0 && schedulable(servers[i])) return servers[i];
  }
  return undefined;
}

/** The client hash of sh and mh: the source address, with the client port if flagged. */
export function clientHash(svc: Service, source: number, cport: number): number {
  return (svc.schedFlags & SCHED_PORT) === 0 ? source : withPort(source, cport);
}
