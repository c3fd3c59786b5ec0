/**
 * The document to apply when importing: the services of the keepalived.conf, over what runs now
 * for everything a keepalived.conf cannot say. keepalived leaves the IPVS timeouts alone unless
 * `lvs_timeouts` sets them, and knows nothing of fullnat's per-service TCP tweaks (TOA,
 * timestamp removal, MSS clamp), the mh table size or box-wide tunables; so those keep their
 * running values (a service the file creates anew gets the defaults), and importing a file that
 * matches what runs changes nothing. Services the file does not list are removed, as the file
 * is the whole balancer configuration (the way keepalived owns its virtual servers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeWithRunning } from "./merge.ts";
 * const running = { version: 1, timeouts: { tcpEstablished: 900 }, services: [{
 *   protocol: "tcp", address: "192.0.2.10", port: 80, toa: false, realServers: [] }] };
 * const merged = mergeWithRunning({ version: 1, services: [{ protocol: "tcp",
 *   address: "192.0.2.10", port: 80, realServers: [], localAddresses: [] }] }, running);
 * assert.equal((merged.timeouts as { tcpEstablished: number }).tcpEstablished, 900);
 * assert.equal((merged.services as { toa?: boolean }[])[0].toa, false);
 * ```
 *
 * @module
 */
import { canonicalAddress } from "../vocab/mod.ts";
import { type ImportedDocument, orderedDocument } from "./output.ts";
import { isJsonObject, type JsonObject } from "../vocab/json_value.ts";

/** Service fields a keepalived.conf cannot set, kept from the running service. */
export const KEPT_SERVICE_FIELDS: readonly string[] = ["toa", "stripTimestamps", "clampMss"];

type Obj = JsonObject;
const isObject = isJsonObject;

const keyOf = (s: Obj) =>
  `${s.protocol} ${canonicalAddress(String(s.address)) ?? String(s.address)} ${s.port}`;

/**
 * `imported` laid over `running` (the parsed text of `config export`; anything that is not a
 * document counts as empty). Returns a plain value for `validateConfig`.
 */
export function mergeWithRunning(imported: ImportedDocument, running: unknown): Obj {
  const base: Obj = isObject(running) ? running : {};
  const runningServices = new Map<string, Obj>();
  for (const s of Array.isArray(base.services) ? base.services : []) {
    if (isObject(s)) runningServices.set(keyOf(s), s);
  }
  const doc = orderedDocument(imported);
  const services = (doc.services as Obj[]).map((svc) => {
    const before = runningServices.get(keyOf(svc));
    if (before === undefined) return svc;
    const kept: Obj = {};
    for (const k of KEPT_SERVICE_FIELDS) if (before[k] !== undefined) kept[k] = before[k];
    // The table size means something only to mh, and only when both run mh.
    if (svc.scheduler === "mh" && before.scheduler === "mh" && before.mhTableSize !== undefined) {
      kept.mhTableSize = before.mhTableSize;
    }
    return { ...svc, ...kept };
  });
  return {
    ...base,
    version: doc.version,
    timeouts: {
      ...(isObject(base.timeouts) ? base.timeouts : {}),
      ...(isObject(doc.timeouts) ? doc.timeouts : {}),
    },
    services,
  };
}
