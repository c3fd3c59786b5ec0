/**
 * Persistence templates (seed 5.1, ipvsadm `-p`): a client keeps going to the real server it
 * was first scheduled to while its template lives, unless that server was removed or
 * quiesced; otherwise the scheduler chooses and the template is renewed.
 *
 * @module
 */
import type { AddressFamily } from "./family.ts";
import { schedule } from "./scheduler.ts";
import type { RealServer, Service } from "./service.ts";

/**
 * The real server for a new connection to `svc` at `now` (monotonic ms) of the packet at `o`
 * in `b` (family `fam`, client port `cport`): the persistent choice if it still stands, else
 * the scheduler's.
 */
export function pickServer(
  svc: Service,
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  cport: number,
  now: number,
): RealServer | undefined {
  if (svc.persistence <= 0) return schedule(svc, fam, b, o, cport);
  const client = fam.clientKey(b, o);
  const tpl = svc.templates.get(client);
  if (tpl && tpl.expires > now && !tpl.server.removed && tpl.server.weight > 0) {
    tpl.expires = now + svc.persistence * 1000;
    return tpl.server;
  }
  const rs = schedule(svc, fam, b, o, cport);
  if (rs) svc.templates.set(client, { server: rs, expires: now + svc.persistence * 1000 });
  return rs;
}

/** Forgets the templates of every service that expired by `now`. */
export function forgetTemplates(services: readonly (Service | undefined)[], now: number): void {
  for (const svc of services) {
    if (svc === undefined || svc.templates.size === 0) continue;
    for (const [client, tpl] of svc.templates) {
      if (tpl.expires <= now) svc.templates.delete(client);
    }
  }
}
