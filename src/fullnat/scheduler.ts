/**
 * Schedulers: pick the real server for a new connection. Servers with weight 0 are quiesced
 * and never picked. Neither allocates.
 *
 * @module
 */
import type { SchedulerName } from "../vocab/mod.ts";
import type { RealServer, Service } from "./service.ts";

/** Round robin over servers with a positive weight. */
export function scheduleRr(svc: Service): RealServer | undefined {
  const list = svc.servers;
  const n = list.length;
  for (let k = 1; k <= n; k++) {
    const i = (svc.schedIndex + k) % n;
    if (list[i].weight > 0) {
      svc.schedIndex = i;
      return list[i];
    }
  }
  return undefined;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
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
    if (s.weight >= svc.schedWeight) return s;
  }
  return undefined;
}

/**
 * The scheduler named by the service. A switch, not a table of functions: a call through a
 * table is not inlined, and the handshake path then allocates. A new supported name in
 * src/vocab/scheduler.ts does not type-check until it has a case here.
 */
export function schedule(svc: Service): RealServer | undefined {
  const name: SchedulerName = svc.scheduler;
  switch (name) {
    case "rr":
      return scheduleRr(svc);
    case "wrr":
      return scheduleWrr(svc);
    default:
      return unimplemented(name);
  }
}

function unimplemented(name: never): never {
  throw new Error(`scheduler ${String(name)} has no implementation`);
}
