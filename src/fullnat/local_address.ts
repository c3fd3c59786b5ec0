/**
 * Local addresses and ports (seed 4.5): a FULLNAT connection leaves the balancer from one of
 * its service's local addresses, taken round robin, on a port no live session already uses
 * towards the same real server (RS address, RS port, local address, local port, proto), within
 * a bounded number of tries; then the SYN is refused and counted ("no port available").
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import type { LocalAddress, RealServer, Service } from "./service.ts";

/** The endpoint {@linkcode takeLocal} chose; reused, valid until the next call. */
export const chosen: { local: LocalAddress | undefined; port: number } = {
  local: undefined,
  port: 0,
};

/**
 * Picks a local address and port of `svc` for a connection of `proto` to `rs` into
 * {@linkcode chosen}. Returns false, having counted why, when there is none.
 */
export function takeLocal(
  e: Engine,
  fam: AddressFamily,
  svc: Service,
  proto: number,
  rs: RealServer,
): boolean {
  const pool = svc.localAddresses;
  if (pool.length === 0) {
    e.counters.noLocalAddress++;
    return false;
  }
  const t = e.table;
  for (let i = 0; i < e.portTries; i++) {
    const cand = pool[svc.localCursor++ % pool.length];
    if (svc.localCursor >= pool.length) svc.localCursor = 0;
    const p = cand.takePort();
    if (!fam.localTaken(t, proto, rs, cand, p)) {
      chosen.local = cand;
      chosen.port = p;
      return true;
    }
    cand.portConflicts++;
  }
  e.counters.portExhausted++;
  return false;
}
