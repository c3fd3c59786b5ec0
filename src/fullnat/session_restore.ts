/**
 * Takes over the sessions a previous process left in memory that outlived it (README
 * "Sessions outlive the daemon"): once the stored configuration is applied, every session
 * found in the table is checked, its owner ids (service, real server, local address) are
 * mapped from the old process's ids to this one's by what they name (`owner_log.ts`), and
 * the table's index is rebuilt over it. A session whose service, server or local address is
 * no longer configured keeps a stand-in that is deleted at once, so it drains as after a
 * `delete`: its packets are forwarded until it ends, and nothing new is sent there.
 *
 * Sessions that expired while no process ran are left for the next expiry scan, which resets
 * the ESTABLISHED ones (docs/design.md 4.8) as if the process had never stopped.
 *
 * @module
 */
import { EngineControl } from "./control.ts";
import type { Engine } from "./engine.ts";
import { recountSource } from "./admission.ts";
import { INET } from "./family_ipv4.ts";
import { INET6 } from "./family_ipv6.ts";
import type { OwnerSnapshot } from "./owner_log.ts";
import type { LocalAddress, RealServer, Service } from "./service.ts";
import { SessionFlag, V6 } from "./session_table.ts";
import { TCP_STATE_NAMES, TcpState } from "./tcp_state.ts";
import { serviceIdentity } from "./types.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import type { ForwardMethod } from "./types.ts";
import { methodOfCode, TRANSMITS } from "./xmit_modes.ts";

/** What {@linkcode restoreSessions} found. */
export interface RestoreReport {
  /** Sessions taken over. */
  kept: number;
  /** Sessions dropped, by reason. */
  dropped: Record<string, number>;
  /** Services, servers and local addresses recreated (then deleted) for sessions that use them. */
  standIns: number;
}

/** Takes over the sessions in `engine`'s table, whose owner ids are those of `old`. */
export function restoreSessions(engine: Engine, old: OwnerSnapshot): RestoreReport {
  const report: RestoreReport = { kept: 0, dropped: {}, standIns: 0 };
  const control = new EngineControl(engine);
  const reg = engine.registry;
  const t = engine.table;
  const now = engine.now();
  const services = new Map<number, Service | null>();
  const servers = new Map<number, RealServer | null>();
  const locals = new Map<number, LocalAddress | null>();
  const retire: (() => void)[] = [];
  // Once, not per service: a configuration may hold thousands.
  const liveByKey = new Map(reg.liveServices().map((s) => [serviceIdentity(s.key), s]));

  const drop = (reason: string) => {
    report.dropped[reason] = (report.dropped[reason] ?? 0) + 1;
    return false;
  };

  const serviceOf = (oldId: number): Service | null => {
    let svc = services.get(oldId);
    if (svc !== undefined) return svc;
    const rec = old.services.get(oldId);
    svc = null;
    if (rec !== undefined) {
      const live = liveByKey.get(serviceIdentity(rec));
      if (live !== undefined) svc = live;
      else {
        // A stand-in is rare: finding it among all services is fine.
        svc = attempt(
          () => control.addService(rec, { scheduler: "rr", persistence: 0 }),
          () => reg.liveServices().find((s) => serviceIdentity(s.key) === serviceIdentity(rec)),
        );
        if (svc !== null) {
          report.standIns++;
          const key = svc.key;
          retire.push(() => control.deleteService(key));
        }
      }
    }
    services.set(oldId, svc);
    return svc;
  };

  const serverOf = (oldId: number, method: ForwardMethod): RealServer | null => {
    let rs = servers.get(oldId);
    if (rs !== undefined) return rs;
    const rec = old.servers.get(oldId);
    rs = null;
    const svc = rec === undefined ? null : serviceOf(rec.service);
    if (rec !== undefined && svc !== null) {
      const find = () => svc.servers.find((r) => r.address === rec.address && r.port === rec.port);
      rs = find() ?? null;
      if (rs === null) {
        const spec = {
          address: rec.address,
          port: rec.port,
          weight: 0,
          method,
        } as const;
        rs = attempt(() => control.addRealServer(svc.key, spec), find);
        if (rs !== null && !svc.removed) {
          report.standIns++;
          const key = svc.key;
          retire.push(() =>
            control.deleteRealServer(key, { address: rec.address, port: rec.port })
          );
        }
      }
    }
    servers.set(oldId, rs);
    return rs;
  };

  const localOf = (oldId: number): LocalAddress | null => {
    let la = locals.get(oldId);
    if (la !== undefined) return la;
    const rec = old.locals.get(oldId);
    la = null;
    const svc = rec === undefined ? null : serviceOf(rec.service);
    if (rec !== undefined && svc !== null) {
      const find = () => svc.localAddresses.find((l) => l.address === rec.address);
      la = find() ?? null;
      if (la === null) {
        la = attempt(() => control.addLocalAddress(svc.key, rec.address), find);
        if (la !== null && !svc.removed) {
          report.standIns++;
          const key = svc.key;
          retire.push(() => control.deleteLocalAddress(key, rec.address));
        }
      }
    }
    locals.set(oldId, la);
    return la;
  };

  report.kept = t.reindex((id) => {
    const p = t.proto[id];
    const base = p & ~V6;
    if (base !== IPPROTO.TCP && base !== IPPROTO.UDP) return drop("unknown protocol");
    if (TRANSMITS[t.method[id]] === undefined) return drop("unknown forwarding method");
    if (base === IPPROTO.TCP && t.state[id] >= TCP_STATE_NAMES.length) {
      return drop("unknown TCP state");
    }
    if (!Number.isFinite(t.expires[id])) return drop("no expiry time");
    const rs = serverOf(t.server[id], methodOfCode(t.method[id]));
    if (rs === null) return drop("real server unknown");
    const svc = rs.service;
    if (svc.id !== serviceOf(t.service[id])?.id) return drop("service unknown");
    let la: LocalAddress | null = null;
    if (t.local[id] >= 0) {
      la = localOf(t.local[id]);
      if (la === null || la.service !== svc) return drop("local address unknown");
    }
    t.service[id] = svc.id;
    t.server[id] = rs.id;
    t.local[id] = la === null ? -1 : la.id;
    svc.sessions++;
    if (base === IPPROTO.TCP && t.state[id] === TcpState.ESTABLISHED) rs.activeConns++;
    else rs.inactiveConns++;
    if (la !== null) la.conns++;
    // Counted against its client again in this engine's per-source table, if its service keeps one.
    recountSource(t, svc, id, engine.counters, now);
    (p & V6 ? INET6 : INET).relink(t, id);
    // A one-packet session waits only for its reply.
    if ((t.flags[id] & SessionFlag.ONE_PACKET) !== 0) t.unlinkIn(id);
    return true;
  });
  // Deleted only now that their sessions count, so they drain instead of vanishing; servers
  // and addresses before their stand-in services, which take theirs along.
  for (const r of retire.reverse()) {
    try {
      r();
    } catch {
      // Already gone with its service.
    }
  }
  return report;
}

/** Runs `add`, then returns what `find` finds, or null when either fails. */
function attempt<T>(add: () => void, find: () => T | undefined): T | null {
  try {
    add();
  } catch {
    return null;
  }
  return find() ?? null;
}
