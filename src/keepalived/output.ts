/**
 * The configuration document an import produces, with the fields a keepalived.conf can set
 * (checks, thresholds, per-service timeouts, one-packet scheduling, persistence mask, quorum,
 * sorry server), and its JSON text with the keys in a fixed order and every field at its default left out, as `formatConfig` leaves out
 * defaults. The text is what the running daemon is asked to apply, through `validateConfig`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importedDocumentText } from "./output.ts";
 * const text = importedDocumentText({ version: 1, services: [{ protocol: "tcp",
 *   address: "192.0.2.10", port: 80, realServers: [{ address: "10.0.0.1", port: 80 }],
 *   localAddresses: [] }] });
 * assert.ok(text.startsWith('{\n  "version": 1,\n  "services": ['));
 * ```
 *
 * @module
 */
import type { TunnelType } from "../vocab/tunnel_type.ts";
import { TIMEOUT_KEYS, type Timeouts } from "../fullnat/timeouts.ts";
import { CHECK_FIELDS, type CheckSpec, type UrlSpec } from "../health/spec.ts";
import type { ForwardMethod, Protocol, SchedulerFlag, SchedulerName } from "../vocab/mod.ts";

/** A health check as `src/health/spec.ts` has it, the fields at their defaults left out. */
export type ImportedCheck = Partial<Omit<CheckSpec, "type">> & Pick<CheckSpec, "type">;

/** One URL of an HTTP or HTTPS check (`statusCodes` left out for any code from 200 to 299). */
export type ImportedUrl = UrlSpec;

/** A real server. */
export interface ImportedRealServer {
  address: string;
  port: number;
  weight?: number;
  method?: ForwardMethod;
  tunnelType?: TunnelType;
  tunnelPort?: number;
  tunnelChecksum?: boolean;
  upperThreshold?: number;
  lowerThreshold?: number;
  inhibitOnFailure?: boolean;
  checks?: ImportedCheck[];
}

/** The server that takes over while a service's quorum is lost. */
export interface ImportedSorryServer {
  address: string;
  port: number;
  method: ForwardMethod;
}

/** A virtual service. */
export interface ImportedService {
  protocol: Protocol;
  address: string;
  port: number;
  scheduler?: SchedulerName;
  schedulerFlags?: SchedulerFlag[];
  persistence?: number;
  persistenceMask?: number;
  timeouts?: Partial<Timeouts>;
  onePacket?: boolean;
  synProxy?: boolean;
  quorum?: number;
  hysteresis?: number;
  sorryServer?: ImportedSorryServer;
  realServers: ImportedRealServer[];
  localAddresses: string[];
}

/** The whole document. `timeouts` only when the file sets some (global_defs lvs_timeouts). */
export interface ImportedDocument {
  version: 1;
  timeouts?: Partial<Timeouts>;
  services: ImportedService[];
}

const CHECK_KEYS: readonly (keyof ImportedCheck)[] = CHECK_FIELDS;
const URL_KEYS: (keyof ImportedUrl)[] = ["path", "statusCodes", "digest"];
const RS_KEYS: (keyof ImportedRealServer)[] = [
  "address",
  "port",
  "weight",
  "method",
  "tunnelType",
  "tunnelPort",
  "tunnelChecksum",
  "upperThreshold",
  "lowerThreshold",
  "inhibitOnFailure",
  "checks",
];
const SORRY_KEYS: (keyof ImportedSorryServer)[] = ["address", "port", "method"];
const SERVICE_KEYS: (keyof ImportedService)[] = [
  "protocol",
  "address",
  "port",
  "scheduler",
  "schedulerFlags",
  "persistence",
  "persistenceMask",
  "timeouts",
  "onePacket",
  "synProxy",
  "quorum",
  "hysteresis",
  "sorryServer",
  "realServers",
  "localAddresses",
];

/** `o` without its undefined fields (the drafts fill every field, set or not). */
export function dropUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** A copy of `o` with `keys` in that order, undefined ones left out. */
function ordered<T extends object>(o: T, keys: readonly (keyof T)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k as string] = o[k];
  return out;
}

/** The document as a plain value with its keys in the text form's order. */
export function orderedDocument(doc: ImportedDocument): Record<string, unknown> {
  return {
    version: doc.version,
    ...(doc.timeouts !== undefined && { timeouts: ordered(doc.timeouts, TIMEOUT_KEYS) }),
    services: doc.services.map((s) => ({
      ...ordered(s, SERVICE_KEYS),
      ...(s.timeouts !== undefined && { timeouts: ordered(s.timeouts, TIMEOUT_KEYS) }),
      ...(s.sorryServer !== undefined && { sorryServer: ordered(s.sorryServer, SORRY_KEYS) }),
      realServers: s.realServers.map((r) => ({
        ...ordered(r, RS_KEYS),
        ...(r.checks !== undefined && {
          checks: r.checks.map((c) => ({
            ...ordered(c, CHECK_KEYS),
            ...(c.urls !== undefined && { urls: c.urls.map((u) => ordered(u, URL_KEYS)) }),
          })),
        }),
      })),
    })),
  };
}

/** The document's JSON text: two-space indent, fixed key order, a newline at the end. */
export function importedDocumentText(doc: ImportedDocument): string {
  return JSON.stringify(orderedDocument(doc), null, 2) + "\n";
}
