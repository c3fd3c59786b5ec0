/**
 * A service's guard of new connections by source, as configured: its allow and deny lists of
 * client prefixes and its per-source limits (`allow`, `deny`, `sourceRate`, `sourceSessions`
 * of {@linkcode ServiceOptions}). Checked whole before anything changes, then applied to the
 * engine's service: prefix sets for the lists, a per-source table while a limit is set. The
 * packet path that enforces them is `admission.ts`.
 *
 * @module
 */
import { ControlError } from "./types.ts";
import type { ServiceOptions } from "./service_spec.ts";
import { MAX_SOURCE_PREFIXES, SOURCE_LIMIT_MAX } from "./service_spec.ts";
import type { Service } from "./service.ts";
import { PrefixSet } from "./prefix_set.ts";
import { SourceTable } from "./source_table.ts";
import { thresholdShare } from "./thresholds.ts";
import { parseSourcePrefix, type SourcePrefix } from "../vocab/prefix.ts";

/** A service's lists and per-source limits, checked. */
export interface SourceGuard {
  allow: SourcePrefix[];
  deny: SourcePrefix[];
  sourceRate: number;
  sourceSessions: number;
}

function invalid(message: string): never {
  throw new ControlError("invalid-argument", message);
}

/** The guard of `svc` as it stands. */
export function currentGuard(svc: Service): SourceGuard {
  const v6 = svc.vaddr6 !== undefined;
  const read = (list: readonly string[]) =>
    list.map((t) => (parseSourcePrefix(t, v6 ? 6 : 4) as { prefix: SourcePrefix }).prefix);
  return {
    allow: read(svc.allow),
    deny: read(svc.deny),
    sourceRate: svc.sourceRate,
    sourceSessions: svc.sourceSessions,
  };
}

/**
 * One allow or deny list: prefixes of the service's family (`v6`), each once, at most
 * {@linkcode MAX_SOURCE_PREFIXES}. Throws saying which entry is wrong and why.
 */
export function checkPrefixList(v: unknown, v6: boolean, which: "allow" | "deny"): SourcePrefix[] {
  const name = which === "allow" ? "Allow list" : "Deny list";
  if (!Array.isArray(v)) invalid(`${name} must be a list of address/length prefixes`);
  if (v.length > MAX_SOURCE_PREFIXES) {
    invalid(`${name} has ${v.length} prefixes: at most ${MAX_SOURCE_PREFIXES}`);
  }
  const seen = new Set<string>();
  return v.map((item, i) => {
    const r = parseSourcePrefix(item, v6 ? 6 : 4);
    if (!r.ok) invalid(`${name} entry ${i + 1} (${JSON.stringify(item)}): ${r.message}`);
    if (seen.has(r.prefix.text)) invalid(`${name} holds ${r.prefix.text} twice`);
    seen.add(r.prefix.text);
    return r.prefix;
  });
}

/** A per-source limit: an integer from 0 (none) to {@linkcode SOURCE_LIMIT_MAX}. */
export function checkSourceLimit(v: unknown, what: "sourceRate" | "sourceSessions"): number {
  if (!(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= SOURCE_LIMIT_MAX)) {
    invalid(
      `${what} must be an integer from 0 (no limit) to ${SOURCE_LIMIT_MAX} (got ${String(v)})`,
    );
  }
  return v as number;
}

/**
 * The guard `options` asks for, starting from `base` (an edit changes only what it gives; a
 * list given replaces the service's). Throws {@linkcode ControlError} before anything changes.
 */
export function checkSourceGuard(
  options: Partial<ServiceOptions> | undefined,
  v6: boolean,
  base: SourceGuard,
): SourceGuard {
  return {
    allow: options?.allow === undefined ? base.allow : checkPrefixList(options.allow, v6, "allow"),
    deny: options?.deny === undefined ? base.deny : checkPrefixList(options.deny, v6, "deny"),
    sourceRate: options?.sourceRate === undefined
      ? base.sourceRate
      : checkSourceLimit(options.sourceRate, "sourceRate"),
    sourceSessions: options?.sourceSessions === undefined
      ? base.sourceSessions
      : checkSourceLimit(options.sourceSessions, "sourceSessions"),
  };
}

/** No lists, no limits. */
export const NO_GUARD: Readonly<SourceGuard> = Object.freeze({
  allow: [],
  deny: [],
  sourceRate: 0,
  sourceSessions: 0,
});

/**
 * Applies guard `g` to `svc` for an engine that is one of `shares` (a daemon's packet workers
 * each enforce their share of the per-source limits, rounded up, as of thresholds). The
 * per-source table is kept while a limit stays set, so its counts survive a changed figure;
 * it goes when no limit is left.
 */
export function applySourceGuard(svc: Service, g: SourceGuard, shares: number): void {
  const set = (list: SourcePrefix[]) => list.length === 0 ? undefined : new PrefixSet(list);
  svc.allow = g.allow.map((p) => p.text);
  svc.deny = g.deny.map((p) => p.text);
  svc.allowSet = set(g.allow);
  svc.denySet = set(g.deny);
  svc.sourceRate = g.sourceRate;
  svc.sourceSessions = g.sourceSessions;
  svc.sourceRateLimit = thresholdShare(g.sourceRate, shares);
  svc.sourceSessionsLimit = thresholdShare(g.sourceSessions, shares);
  const limited = g.sourceRate !== 0 || g.sourceSessions !== 0;
  if (!limited) svc.sources = undefined;
  else if (svc.sources === undefined) svc.sources = new SourceTable();
  svc.guarded = svc.allowSet !== undefined || svc.denySet !== undefined || limited;
}
