/**
 * Persistence templates out of an engine and into another: the one function pair by which
 * templates outlive the daemon (the worker writes them to its run directory and the next
 * worker reads them back, `src/kernel/template_carry.ts`) and by which an HA sync, when it
 * exists, will send them to a backup. Pure: bytes in, bytes out, no I/O.
 *
 * Services are found by what they are (`serviceIdentity()`), real servers by address and
 * port, so ids that differ between processes do not matter. The bytes are a small JSON header
 * (the services, each with its granularity and its servers) followed by fixed 28-byte records
 * (the masked client as four words, the server's index in its service's list, the time left
 * in ms), written straight from and into the template tables: a service with a million
 * clients costs no object per template.
 *
 * A template is taken back only where it still means the same: its service is configured and
 * persistent with the same granularity, its real server is still in it; its time left is cut
 * to the service's current timeout. Templates then count the sessions they placed that are in
 * the table (restored sessions), so the ones that still have open sessions live on as before.
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { RealServer, Service } from "./service.ts";
import { A6, V6 } from "./session_table.ts";
import { serviceIdentity } from "./service_spec.ts";

/** The first four bytes of exported templates: "FNT" and the format version 1. */
const MAGIC = 0x464e5401;
/** Bytes per template record. */
const RECORD = 28;

/** One service's part of the header. */
interface ServiceHeader {
  /** `serviceIdentity()` of the service. */
  id: string;
  /** Its persistence granularity when exported (a prefix length). */
  mask: number;
  /** Its real servers as `address port`, indexed by the records. */
  servers: string[];
  /** How many records follow for it. */
  count: number;
}

/** The JSON header. */
interface Header {
  /** The exporter's clock (monotonic ms) when it exported. */
  at: number;
  services: ServiceHeader[];
}

/** What {@linkcode importTemplates} took back and what it left, by reason. */
export interface TemplateImportReport {
  kept: number;
  dropped: Record<string, number>;
}

/** Exported template bytes that cannot be read. */
export class TemplateDataError extends Error {
  override name = "TemplateDataError";
}

const serverName = (rs: RealServer) => `${rs.address} ${rs.port}`;

/** Every live template of `e`'s live persistent services, as bytes for {@linkcode importTemplates}. */
export function exportTemplates(e: Engine): Uint8Array {
  const now = e.now();
  const header: Header = { at: now, services: [] };
  const chosen: Service[] = [];
  let records = 0;
  for (const svc of e.registry.liveServices()) {
    if (svc.persistence <= 0 || svc.templates.size === 0) continue;
    chosen.push(svc);
    header.services.push({
      id: serviceIdentity(svc.key),
      mask: svc.persistenceMask,
      servers: svc.servers.map(serverName),
      count: 0,
    });
    records += svc.templates.size;
  }
  // Records first, into room for all; the header, which holds the counts, goes in front.
  const body = new Uint8Array(records * RECORD);
  const view = new DataView(body.buffer);
  let at = 0;
  chosen.forEach((svc, i) => {
    const index = new Map(svc.servers.map((rs, j) => [rs, j]));
    const tt = svc.templates;
    let count = 0;
    for (let slot = 0; slot < tt.slots; slot++) {
      if (!tt.live(slot)) continue;
      const j = index.get(tt.server(slot));
      const left = tt.expires(slot) - now;
      // A template of a deleted server, or whose time is up, would not be followed anyway.
      if (j === undefined || (left <= 0 && tt.controls(slot) === 0)) continue;
      for (let w = 0; w < 4; w++) view.setUint32(at + w * 4, tt.keyWord(slot, w), true);
      view.setUint32(at + 16, j, true);
      view.setFloat64(at + 20, Math.max(0, left), true);
      at += RECORD;
      count++;
    }
    header.services[i].count = count;
  });
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + head.length + at);
  const outView = new DataView(out.buffer);
  outView.setUint32(0, MAGIC);
  outView.setUint32(4, head.length, true);
  out.set(head, 8);
  out.set(body.subarray(0, at), 8 + head.length);
  return out;
}

/** Reads the header of exported templates; throws {@linkcode TemplateDataError}. */
function readHeader(data: Uint8Array): { header: Header; body: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 8 || view.getUint32(0) !== MAGIC) {
    throw new TemplateDataError("not persistence templates of this version");
  }
  const length = view.getUint32(4, true);
  if (8 + length > data.length) throw new TemplateDataError("truncated header");
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(data.subarray(8, 8 + length)));
  } catch {
    throw new TemplateDataError("header is not valid JSON");
  }
  const ok = typeof header?.at === "number" && Array.isArray(header.services) &&
    header.services.every((s) =>
      typeof s?.id === "string" && Number.isInteger(s.mask) && Number.isInteger(s.count) &&
      s.count >= 0 && Array.isArray(s.servers) && s.servers.every((x) => typeof x === "string")
    );
  if (!ok) throw new TemplateDataError("header does not describe templates");
  const records = header.services.reduce((n, s) => n + s.count, 0);
  if (8 + length + records * RECORD !== data.length) {
    throw new TemplateDataError(`${records} template records announced, other bytes found`);
  }
  return { header, body: 8 + length };
}

/**
 * Takes the templates of `data` (from {@linkcode exportTemplates}) into `e`, replacing any it
 * holds for the same clients. With `sameClock` (the exporter ran on this box: a restart), the
 * time since the export is taken off each template's time left; otherwise (another box's
 * clock) their times count from now. Throws {@linkcode TemplateDataError} on bytes it cannot
 * read, having taken nothing.
 */
export function importTemplates(
  e: Engine,
  data: Uint8Array,
  sameClock: boolean,
): TemplateImportReport {
  const { header, body } = readHeader(data);
  const report: TemplateImportReport = { kept: 0, dropped: {} };
  const drop = (reason: string, n = 1) => {
    if (n > 0) report.dropped[reason] = (report.dropped[reason] ?? 0) + n;
  };
  const now = e.now();
  const age = sameClock ? Math.max(0, now - header.at) : 0;
  const live = new Map(e.registry.liveServices().map((s) => [serviceIdentity(s.key), s]));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const key = new Uint32Array(4);
  let at = body;
  for (const saved of header.services) {
    const start = at;
    at += saved.count * RECORD;
    const svc = live.get(saved.id);
    if (svc === undefined) {
      drop("service gone", saved.count);
      continue;
    }
    if (svc.persistence <= 0) {
      drop("service no longer persistent", saved.count);
      continue;
    }
    if (svc.persistenceMask !== saved.mask) {
      drop("granularity changed", saved.count);
      continue;
    }
    const byName = new Map(svc.servers.map((rs) => [serverName(rs), rs]));
    const servers = saved.servers.map((name) => byName.get(name));
    const ttl = svc.persistence * 1000;
    const tt = svc.templates;
    const m = svc.maskWords;
    for (let r = start; r < at; r += RECORD) {
      for (let w = 0; w < 4; w++) key[w] = view.getUint32(r + w * 4, true) & m[w];
      const rs = servers[view.getUint32(r + 16, true)];
      const left = Math.min(view.getFloat64(r + 20, true) - age, ttl);
      if (rs === undefined) {
        drop("real server gone");
        continue;
      }
      if (!(left > 0)) {
        drop("expired");
        continue;
      }
      let slot = tt.find(key, 0);
      if (slot < 0) slot = tt.insert(key, 0, rs);
      else if (tt.server(slot) !== rs) tt.rebind(slot, rs);
      tt.setExpires(slot, now + left);
      report.kept++;
    }
  }
  if (report.kept > 0) countPlacedSessions(e);
  e.registry.templatesChanged = true;
  return report;
}

/**
 * Counts anew, in each template, the sessions in the table it placed (same service, masked
 * client and real server), as if it had placed them: restored sessions keep their templates
 * alive as the sessions they placed before the restart did.
 */
export function countPlacedSessions(e: Engine): void {
  const t = e.table;
  const reg = e.registry;
  for (const svc of reg.services) svc?.templates.resetControls();
  const key = new Uint32Array(4);
  for (let id = 0; id < t.highWater; id++) {
    if (!t.live(id)) continue;
    const svc = reg.services[t.service[id]];
    if (svc === undefined || svc.persistence <= 0 || svc.templates.size === 0) continue;
    if ((t.proto[id] & V6) !== 0) {
      for (let w = 0; w < 4; w++) key[w] = t.addr6[(id << 4) + A6.C + w];
    } else {
      key[0] = t.caddr[id];
      key[1] = key[2] = key[3] = 0;
    }
    for (let w = 0; w < 4; w++) key[w] &= svc.maskWords[w];
    const slot = svc.templates.find(key, 0);
    if (slot >= 0 && svc.templates.server(slot) === reg.servers[t.server[id]]) {
      svc.templates.control(slot, 1);
    }
  }
}
