/**
 * Merging what several workers report into what one engine would have reported: every
 * worker has the same configuration and its own sessions and counters, so configuration
 * comes from whichever worker lists an object first and counters are summed.
 *
 * @module
 */
import type {
  DiversionSpec,
  LocalAddressView,
  RealServerView,
  ServiceView,
  Stats,
} from "../fullnat/types.ts";

/** Adds every numeric field of `add` into `into` (fields missing in `into` start at 0). */
export function addCounters<T extends object>(into: T, add: T): T {
  const target = into as Record<string, unknown>;
  for (const [k, v] of Object.entries(add)) {
    if (typeof v === "number") target[k] = ((target[k] as number | undefined) ?? 0) + v;
  }
  return into;
}

/** Field-wise sums of counter records (empty input: an empty object). */
export function sumCounters<T extends object>(records: readonly T[]): T {
  const out = {} as T;
  for (const r of records) addCounters(out, r);
  return out;
}

const addStats = (a: Stats, b: Stats): Stats => addCounters({ ...a }, b);

/**
 * One service list from per-worker lists: services, real servers and local addresses are
 * matched by their keys (order of first appearance), connection counts and traffic summed.
 * An object that only some workers still list (a deleted real server whose sessions live on
 * in one worker) is kept.
 */
export function mergeServices(lists: readonly ServiceView[][]): ServiceView[] {
  const services = new Map<string, ServiceView>();
  for (const list of lists) {
    for (const svc of list) {
      const key = `${svc.protocol}|${svc.address}|${svc.port}`;
      const have = services.get(key);
      if (have === undefined) {
        services.set(key, {
          ...svc,
          stats: { ...svc.stats },
          ...(svc.refused !== undefined && { refused: { ...svc.refused } }),
          realServers: svc.realServers.map((rs) => ({ ...rs, stats: { ...rs.stats } })),
          localAddresses: svc.localAddresses.map((la) => ({ ...la })),
          ...(svc.sorryServer !== undefined &&
            { sorryServer: { ...svc.sorryServer, stats: { ...svc.sorryServer.stats } } }),
        });
        continue;
      }
      have.stats = addStats(have.stats, svc.stats);
      if (svc.refused !== undefined) {
        have.refused = have.refused === undefined
          ? { ...svc.refused }
          : addCounters({ ...have.refused }, svc.refused);
      }
      const sorry = svc.sorryServer;
      if (have.sorryServer !== undefined && sorry !== undefined) {
        have.sorryServer.activeConns += sorry.activeConns;
        have.sorryServer.inactiveConns += sorry.inactiveConns;
        have.sorryServer.stats = addStats(have.sorryServer.stats, sorry.stats);
      }
      for (const rs of svc.realServers) mergeServer(have.realServers, rs);
      for (const la of svc.localAddresses) mergeLocal(have.localAddresses, la);
    }
  }
  return [...services.values()];
}

function mergeServer(into: RealServerView[], rs: RealServerView): void {
  const have = into.find((r) => r.address === rs.address && r.port === rs.port);
  if (have === undefined) {
    into.push({ ...rs, stats: { ...rs.stats } });
    return;
  }
  have.activeConns += rs.activeConns;
  have.inactiveConns += rs.inactiveConns;
  if (rs.persistConns !== undefined) have.persistConns = (have.persistConns ?? 0) + rs.persistConns;
  // Each worker enforces its share of a threshold: over it in one is over it.
  if (rs.overloaded) have.overloaded = true;
  have.stats = addStats(have.stats, rs.stats);
}

function mergeLocal(into: LocalAddressView[], la: LocalAddressView): void {
  const have = into.find((l) => l.address === la.address);
  if (have === undefined) into.push({ ...la });
  else {
    have.conns += la.conns;
    have.portConflicts += la.portConflicts;
  }
}

/** Everything any worker needs diverted (a retired address may still carry sessions in one). */
export function unionDiversion(specs: readonly DiversionSpec[]): DiversionSpec {
  const out: DiversionSpec = { services: [], localAddresses: [], natRealServers: [] };
  const seen = new Set<string>();
  const once = (key: string) => !seen.has(key) && seen.add(key) !== undefined;
  for (const s of specs) {
    for (const v of s.services) {
      if (once(`s|${v.protocol}|${v.address}|${v.port}`)) out.services.push({ ...v });
    }
    for (const a of s.localAddresses) if (once(`l|${a}`)) out.localAddresses.push(a);
    for (const r of s.natRealServers) {
      if (once(`n|${r.protocol}|${r.address}|${r.port}`)) out.natRealServers.push({ ...r });
    }
    for (const r of s.drRealServers ?? []) {
      if (once(`d|${r.address}`)) (out.drRealServers ??= []).push({ ...r });
    }
    if (s.offload === true) out.offload = true;
  }
  return out;
}
