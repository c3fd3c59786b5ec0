/**
 * Persistence templates (seed 5.1, ipvsadm `-p` and `-M`), as IPVS keeps them
 * (`ip_vs_sched_persist`, `ip_vs_check_template`, `ip_vs_conn_expire`):
 *
 * - a new connection's client address, masked by the service's granularity (`-M`, a prefix
 *   length), finds its template in the service's {@linkcode TemplateTable}; the whole masked
 *   address is the key, so two clients share a template only when they are in one prefix;
 * - a template whose real server is still in the service sends the connection there and is
 *   renewed for the persistence timeout. A server of weight 0 (quiesced) keeps its clients,
 *   as in IPVS, unless the tunable `expireQuiescentTemplate` (IPVS's
 *   `expire_quiescent_template` sysctl) is on: then the template goes and the scheduler
 *   chooses again. A template whose server was deleted is never used;
 * - otherwise the scheduler chooses and a template records the choice;
 * - a template counts the sessions it placed that are still open (IPVS's `n_control`); when
 *   its time is up while some are, it lives on 60 s at a time, as IPVS's `expire_later` keeps
 *   it, so a client whose long connection outlasts the timeout still comes back to its server.
 *
 * Templates are consulted on new connections only, never per packet; nothing here allocates.
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { schedule } from "./scheduler.ts";
import type { RealServer, Service } from "./service.ts";
import { A6, type SessionTable, V6 } from "./session_table.ts";

/**
 * How long a template whose time is up lives on while sessions it placed are still open, in
 * milliseconds, before it is looked at again (IPVS sets such a template's timeout to 60 s).
 */
export const TEMPLATE_LINGER_MS = 60_000;

/** The masked client address being looked up; reused. */
const key = new Uint32Array(4);
/**
 * The time of the new connection {@linkcode pickServer} places, in monotonic ms, set by its
 * caller: the clock's fractional milliseconds would be boxed crossing a call as an argument,
 * and read from here they are not.
 */
export const pickTime: Float64Array = new Float64Array(1);
/** The slot of the template behind the last {@linkcode pickServer}, or -1. */
let pickedSlot = -1;

/** Masks {@linkcode key} by the service's granularity. */
function maskKey(svc: Service): void {
  const m = svc.maskWords;
  key[0] &= m[0];
  key[1] &= m[1];
  key[2] &= m[2];
  key[3] &= m[3];
}

/**
 * True when a template pointing at `rs` may still be followed (`ip_vs_check_template`): not
 * deleted, not out of the service (health checks or a sorry server standing in: keepalived
 * would have removed it from IPVS), and not held down by its checks even when inhibited (IPVS
 * would follow a quiesced server's template; a failed server must get no new connection), and
 * quiesced only while `expireQuiescentTemplate` is off.
 */
function usable(e: Engine, rs: RealServer): boolean {
  return !rs.removed && rs.listed && rs.healthy &&
    (rs.weight > 0 || !e.expireQuiescentTemplate);
}

/**
 * The real server for a new connection to persistent service `svc` at {@linkcode pickTime} of
 * the packet at `o` in `b` (family `fam`, client port `cport`): the template's if it still
 * stands, else the scheduler's, recorded in a new template. {@linkcode bindTemplate} then
 * counts the session once it exists.
 */
export function pickServer(
  e: Engine,
  svc: Service,
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  cport: number,
): RealServer | undefined {
  fam.clientWords(b, o, key);
  maskKey(svc);
  const tt = svc.templates;
  const c = e.counters;
  const now = pickTime[0];
  const ttl = svc.persistence * 1000;
  const slot = tt.find(key, 0);
  if (slot >= 0) {
    const rs = tt.server(slot);
    const expiry = tt.expiry;
    if (expiry[slot] > now || tt.controls(slot) > 0) {
      if (usable(e, rs)) {
        expiry[slot] = now + ttl;
        c.templatesReused++;
        e.registry.templatesChanged = true;
        pickedSlot = slot;
        return rs;
      }
      c.templatesInvalidated++;
    } else c.templatesExpired++;
    tt.remove(slot);
    e.registry.templatesChanged = true;
  }
  pickedSlot = -1;
  const rs = schedule(svc, fam, b, o, cport);
  if (rs === undefined) return undefined;
  pickedSlot = tt.insert(key, 0, rs);
  tt.expiry[pickedSlot] = now + ttl;
  c.templatesCreated++;
  e.registry.templatesChanged = true;
  return rs;
}

/** Counts the session just opened to `svc` in the template {@linkcode pickServer} used. */
export function bindTemplate(svc: Service): void {
  if (pickedSlot >= 0) svc.templates.control(pickedSlot, 1);
  pickedSlot = -1;
}

/**
 * Session `id` of persistent service `svc`, to `rs`, is ending: its template (if it is still
 * the one that placed it, on the same server) counts one session fewer.
 */
export function releaseTemplate(t: SessionTable, id: number, svc: Service, rs: RealServer): void {
  if ((t.proto[id] & V6) !== 0) {
    const a = (id << 4) + A6.C;
    key[0] = t.addr6[a];
    key[1] = t.addr6[a + 1];
    key[2] = t.addr6[a + 2];
    key[3] = t.addr6[a + 3];
  } else {
    key[0] = t.caddr[id];
    key[1] = 0;
    key[2] = 0;
    key[3] = 0;
  }
  maskKey(svc);
  const tt = svc.templates;
  const slot = tt.find(key, 0);
  if (slot >= 0 && tt.server(slot) === rs) tt.control(slot, -1);
}

/**
 * Forgets the templates of every service whose time is up by `now`, except those that still
 * placed open sessions: they get {@linkcode TEMPLATE_LINGER_MS} more. Returns how many went.
 */
export function forgetTemplates(e: Engine, now: number): number {
  let gone = 0;
  for (const svc of e.registry.services) {
    if (svc === undefined || svc.templates.size === 0) continue;
    const tt = svc.templates;
    gone += tt.sweep((slot) => {
      if (tt.expires(slot) > now) return false;
      if (tt.controls(slot) > 0) {
        tt.setExpires(slot, now + TEMPLATE_LINGER_MS);
        return false;
      }
      return true;
    });
    tt.compact();
  }
  if (gone > 0) {
    e.counters.templatesExpired += gone;
    e.registry.templatesChanged = true;
  }
  return gone;
}

/** Forgets every template of `svc` (persistence switched off, granularity changed). */
export function clearTemplates(e: Engine, svc: Service): void {
  if (svc.templates.size === 0) return;
  svc.templates.clear();
  e.registry.templatesChanged = true;
}
