/**
 * Schedulers: pick the real server for a new connection. Servers with weight 0 are quiesced
 * and never picked; nor are servers over their upper connection threshold (`thresholds.ts`),
 * as every IPVS scheduler skips `IP_VS_DEST_F_OVERLOAD`. None allocates. rr, wrr, lc and wlc are here; the hashing ones (sh, dh,
 * mh), which read the packet's addresses through its family, in `scheduler_hashed.ts`.
 *
 * @module
 */
import type { SchedulerName } from "../vocab/mod.ts";
import type { AddressFamily } from "./family.ts";
import { clientHash, scheduleHashed } from "./scheduler_hashed.ts";
import { type RealServer, schedulable, type Service } from "./service.ts";
import { gcd } from "./weight_gcd.ts";

/** Round robin over servers with a positive weight. */
export function scheduleRr(svc: Service): RealServer | undefined {
  const list = svc.servers;
  const n = list.length;
  for (let k = 1; k <= n; k++) {
    const i = (svc.schedIndex + k) % n;
    if (schedulable(list[i])) {
      svc.schedIndex = i;
      return list[i];
    }
  }
  return undefined;
}

/**
 * Weighted round robin, interleaved as LVS does it: each round lowers the current weight by
 * the weights' gcd and picks, in order, every server whose weight reaches it. Over a cycle
 * each server is picked in proportion to its weight.
 */
export function scheduleWrr(svc: Service): RealServer | undefined {
  const list = svc.servers;
  const n = list.length;
  let maxW = 0;
  let g = 0;
  for (const s of list) {
    if (s.weight > maxW) maxW = s.weight;
    if (s.weight > 0) g = gcd(g, s.weight);
  }
  if (maxW === 0) return undefined;
  if (svc.schedWeight > maxW) svc.schedWeight = maxW;
  // At most one pass over every (server, weight step) pair finds a server.
  for (let guard = n * (maxW / g + 1); guard > 0; guard--) {
    svc.schedIndex = (svc.schedIndex + 1) % n;
    if (svc.schedIndex === 0) {
      svc.schedWeight -= g;
      if (svc.schedWeight <= 0) svc.schedWeight = maxW;
    }
    const s = list[svc.schedIndex];
    if (s.weight >= svc.schedWeight && !s.overloaded) return s;
  }
  return undefined;
}

/**
 * IPVS's load of a server (`ip_vs_dest_conn_overhead`): an active connection weighs 256
 * inactive ones, which mostly wait in TIME_WAIT or were never established.
 */
function overhead(rs: RealServer): number {
  return rs.activeConns * 256 + rs.inactiveConns;
}

/** Least connection: the server of positive weight with the least load; the first on a tie. */
export function scheduleLc(svc: Service): RealServer | undefined {
  const list = svc.servers;
  let least: RealServer | undefined;
  let leastLoad = 0;
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (!schedulable(s)) continue;
    const load = overhead(s);
    if (least === undefined || load < leastLoad) {
      least = s;
      leastLoad = load;
    }
  }
  return least;
}

/**
 * Weighted least connection: the server of positive weight with the least load per weight,
 * compared as IPVS does by cross-multiplying (`load_a * weight_b > load_b * weight_a`), so no
 * division rounds; the first on a tie. Loads stay far below 2^53 / 65535, so the products are
 * exact.
 */
export function scheduleWlc(svc: Service): RealServer | undefined {
  const list = svc.servers;
  let least: RealServer | undefined;
  let leastLoad = 0;
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (!schedulable(s)) continue;
    const load = overhead(s);
    if (least === undefined || leastLoad * s.weight > load * least.weight) {
      least = s;
      leastLoad = load;
    }
  }
  return least;
}

/**
 * The scheduler named by the service, for the packet at `o` in `b` of family `fam` from client
 * port `cport`. A switch, not a table of functions: a call through a table is not inlined, and
 * the handshake path then allocates. A new supported name in src/vocab/scheduler.ts does not
 * type-check until it has a case here.
 */
export function schedule(
  svc: Service,
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  cport: number,
): RealServer | undefined {
  const name: SchedulerName = svc.scheduler;
  switch (name) {
    case "rr":
      return scheduleRr(svc);
    case "wrr":
      return scheduleWrr(svc);
    case "lc":
      return scheduleLc(svc);
    case "wlc":
      return scheduleWlc(svc);
    case "sh":
    case "mh":
      return scheduleHashed(svc, clientHash(svc, fam.sourceHash(b, o), cport));
    case "dh":
      return scheduleHashed(svc, fam.destHash(b, o));
    default:
      return unimplemented(name);
  }
}

function unimplemented(name: never): never {
  throw new Error(`scheduler ${String(name)} has no implementation`);
}
