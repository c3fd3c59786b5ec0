/**
 * Persistence templates as rows of the connection listing, as IPVS lists its templates among
 * its connections (`/proc/net/ip_vs_conn`, `ipvsadm -L -n -c`): state `NONE`, the client's
 * masked address with port 0 as the source, the virtual address and port, the real server the
 * template holds, and no local endpoint (a FULLNAT kernel's template has none: `0.0.0.0:0`).
 *
 * A listing pages through sessions first and templates after them, with one cursor: the
 * template part starts at {@linkcode TEMPLATE_CURSOR}, and a cursor there names a service id
 * and a slot of its template table.
 *
 * @module
 */
import { formatIpv4, formatIpv6, protocolOfNumber } from "../vocab/mod.ts";
import type { Engine } from "./engine.ts";
import type { ConnectionView } from "./views.ts";

/** The first cursor of the template part of a connection listing (beyond any session slot). */
export const TEMPLATE_CURSOR = 2 ** 40;
/** Cursor values per service: room for any template table's slots. */
const SERVICE_SPAN = 2 ** 28;

/** A template row with every field present, to be filled in. */
export function blankTemplateRow(): ConnectionView {
  return {
    protocol: "tcp",
    method: "fullnat",
    state: "NONE",
    expiresInMs: 0,
    client: { address: "", port: 0 },
    virtual: { address: "", port: 0 },
    local: { address: "", port: 0 },
    real: { address: "", port: 0 },
    template: true,
  };
}

/** A template's key words, for formatting an IPv6 one; reused. */
const words = new Uint32Array(4);

/**
 * Hands `visit` up to `max` template rows of `e`'s live services from `cursor` (at least
 * {@linkcode TEMPLATE_CURSOR}) on, each in `row` when given (reused: valid only during the
 * call) or in a new object. Returns how many it handed and the cursor to continue from (null
 * after the last).
 */
export function templateRows(
  e: Engine,
  cursor: number,
  max: number,
  visit: (row: ConnectionView) => void,
  row?: ConnectionView,
): { count: number; next: number | null } {
  const rest = cursor - TEMPLATE_CURSOR;
  const services = e.registry.services;
  const now = e.now();
  let count = 0;
  let slot = rest % SERVICE_SPAN;
  for (let id = Math.floor(rest / SERVICE_SPAN); id < services.length; id++, slot = 0) {
    const svc = services[id];
    if (svc === undefined || svc.removed || svc.templates.size === 0) continue;
    const tt = svc.templates;
    const v6 = svc.vaddr6 !== undefined;
    const protocol = protocolOfNumber(svc.proto) ?? "tcp";
    for (; slot < tt.slots; slot++) {
      if (!tt.live(slot)) continue;
      if (count === max) return { count, next: TEMPLATE_CURSOR + id * SERVICE_SPAN + slot };
      const rs = tt.server(slot);
      const r = row ?? blankTemplateRow();
      r.protocol = protocol;
      r.method = rs.method;
      r.expiresInMs = Math.max(0, Math.round(tt.expires(slot) - now));
      if (v6) {
        for (let i = 0; i < 4; i++) words[i] = tt.keyWord(slot, i);
        r.client.address = formatIpv6(words, 0);
        r.local.address = "::";
      } else {
        r.client.address = formatIpv4(tt.keyWord(slot, 0));
        r.local.address = "0.0.0.0";
      }
      r.client.port = 0;
      r.local.port = 0;
      r.virtual.address = svc.key.address;
      r.virtual.port = svc.key.port;
      r.real.address = rs.address;
      r.real.port = rs.port;
      visit(r);
      count++;
    }
  }
  return { count, next: null };
}
