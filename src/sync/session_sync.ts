/**
 * Sessions of an engine into sync entries and back: what a master worker sends and what a
 * backup worker installs. Pure and synchronous like the engine, and off its packet path: the
 * master side finds the sessions to send by scanning the table against a shadow of what it
 * last sent ({@linkcode SyncScanner}), so the per-packet code is untouched.
 *
 * When a session is sent follows IPVS (`ip_vs_sync_conn_needed`): a TCP session only in
 * ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT or TIME_WAIT (a half-open one is not worth a
 * message), when it is first seen there, when its state changes, and again while it lives:
 * IPVS counts packets (sync_threshold 3, sync_period 50); fullnat counts time, sending a
 * session again once half the time it had left when last sent has passed and traffic has
 * moved its expiry since, so the backup's copy never runs out while the master's lives. And,
 * unlike IPVS, every session of this box's own is sent again at least every `refreshMs`
 * (`fullnat daemon --sync-refresh`), even idle: a peer that was down or cut off when a session
 * was made learns it within that time once it is back (failback).
 *
 * A received entry is installed only where it means the same session: its service (protocol,
 * virtual address and port) and real server are configured, with the same forwarding method,
 * and for FULLNAT the local address is one of the service's and its local port free towards
 * that server. Installing it puts it in the table's out-index, which is what reserves the
 * local port (`local_address.ts` takes no port a session holds). An entry for a session the
 * table has (same client tuple) updates it. Every refusal is counted by reason.
 *
 * @module
 */
import type { Engine } from "../fullnat/engine.ts";
import { INET } from "../fullnat/family_ipv4.ts";
import { INET6 } from "../fullnat/family_ipv6.ts";
import type { LocalAddress, RealServer, Service } from "../fullnat/service.ts";
import { A6, NO_SESSION, SessionFlag, V6 } from "../fullnat/session_table.ts";
import { TcpState } from "../fullnat/tcp_state.ts";
import { METHOD_DR, METHOD_FULLNAT, METHOD_NAT, METHOD_TUNNEL } from "../fullnat/xmit.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import {
  decodeFullnat,
  encodeFullnat,
  FULLNAT_PARAM_TYPE,
  type FullnatState,
} from "./fullnat_param.ts";
import { ConnFlag, type SyncConn } from "./wire.ts";

/** IPVS forwarding-method bits of each engine method code. */
const FWD_OF_METHOD: Readonly<Record<number, number>> = {
  [METHOD_FULLNAT]: ConnFlag.FULLNAT,
  [METHOD_NAT]: ConnFlag.MASQ,
  [METHOD_DR]: ConnFlag.DROUTE,
  [METHOD_TUNNEL]: ConnFlag.TUNNEL,
};
/** Engine method code of each IPVS forwarding method the engine has. */
const METHOD_OF_FWD: Readonly<Record<number, number>> = {
  [ConnFlag.FULLNAT]: METHOD_FULLNAT,
  [ConnFlag.MASQ]: METHOD_NAT,
  [ConnFlag.DROUTE]: METHOD_DR,
  [ConnFlag.TUNNEL]: METHOD_TUNNEL,
};

/** TCP states in which IPVS syncs a connection. */
const SYNCED_TCP_STATES = (1 << TcpState.ESTABLISHED) | (1 << TcpState.FIN_WAIT) |
  (1 << TcpState.CLOSE) | (1 << TcpState.CLOSE_WAIT) | (1 << TcpState.TIME_WAIT);

/** The words of one of session `id`'s addresses (`A6` offset for IPv6). */
function words(e: Engine, id: number, v4: Uint32Array, a6: number): number[] {
  const t = e.table;
  if ((t.proto[id] & V6) === 0) return [v4[id]];
  const b = (id << 4) + a6;
  return [t.addr6[b], t.addr6[b + 1], t.addr6[b + 2], t.addr6[b + 3]];
}

/** Session `id` of `e` as a sync entry with fullnat's parameter. */
export function exportSession(e: Engine, id: number): SyncConn {
  const t = e.table;
  const proto = t.proto[id] & ~V6;
  const now = e.now();
  let flags = FWD_OF_METHOD[t.method[id]] ?? ConnFlag.FULLNAT;
  if (proto !== IPPROTO.TCP || t.state[id] !== TcpState.ESTABLISHED) flags |= ConnFlag.INACTIVE;
  if ((t.flags[id] & SessionFlag.ONE_PACKET) !== 0) flags |= ConnFlag.ONE_PACKET;
  const state: FullnatState = {
    method: t.method[id],
    sessionFlags: t.flags[id],
    laddr: t.local[id] >= 0 ? words(e, id, t.laddr, A6.L) : [],
    lport: t.local[id] >= 0 ? t.lport[id] : 0,
    seqDelta: t.seqDelta[id],
    clientIsn: t.clientIsn[id],
    rsAck: t.rsAck[id],
    rsSeqEnd: t.rsSeqEnd[id],
    timeLeftMs: Math.max(0, t.expires[id] - now),
    ...((t.flags[id] & SessionFlag.SYN_PROXY) !== 0 && {
      proxy: { seq: t.proxySeq[id], ts: t.proxyTs[id], wscale: t.proxyWscale[id] },
    }),
  };
  return {
    v6: (t.proto[id] & V6) !== 0,
    protocol: proto,
    flags,
    state: proto === IPPROTO.TCP ? t.state[id] : 0,
    cport: t.cport[id],
    vport: t.vport[id],
    dport: t.dport[id],
    fwmark: 0,
    // As the kernel sends it: the state's whole timeout, which a mainline backup restarts.
    timeout: Math.ceil(e.timeoutMs(id) / 1000),
    caddr: words(e, id, t.caddr, A6.C),
    vaddr: words(e, id, t.vaddr, A6.V),
    daddr: words(e, id, t.daddr, A6.D),
    params: [{ type: FULLNAT_PARAM_TYPE, data: encodeFullnat(state) }],
  };
}

/**
 * Which sessions a master sends, found by scanning the table against what was last sent for
 * each slot: allocation-free per session, bounded work per call (a cursor walks the table).
 */
export class SyncScanner {
  /** State last sent per slot; 255: nothing sent for the session in the slot. */
  readonly #state: Uint8Array;
  readonly #cport: Uint16Array;
  readonly #caddr: Uint32Array;
  /** The client's ISN when sent: a session reopened by a new SYN is another connection. */
  readonly #isn: Uint32Array;
  readonly #sentAt: Float64Array;
  readonly #leftAtSend: Float64Array;
  readonly #expiresAtSend: Float64Array;
  #cursor = 0;

  constructor(readonly engine: Engine) {
    const n = engine.table.capacity;
    this.#state = new Uint8Array(n).fill(255);
    this.#cport = new Uint16Array(n);
    this.#caddr = new Uint32Array(n);
    this.#isn = new Uint32Array(n);
    this.#sentAt = new Float64Array(n);
    this.#leftAtSend = new Float64Array(n);
    this.#expiresAtSend = new Float64Array(n);
  }

  /**
   * Records session `id` as sent as it is now: installed from a sync message, it is sent on
   * only once traffic here changes it.
   */
  markSent(id: number): void {
    this.#record(id, this.engine.now());
  }

  /** Forgets what was sent: every live session is sent again (a master that starts anew). */
  reset(): void {
    this.#state.fill(255);
    this.#cursor = 0;
  }

  /**
   * Up to `maxSlots` slots further, the sessions due, as entries (at most `maxEntries`).
   * Returns the entries and whether the scan wrapped around the table.
   */
  scan(
    maxSlots: number,
    maxEntries: number,
    refreshMs = 0,
  ): { conns: SyncConn[]; wrapped: boolean } {
    const e = this.engine;
    const t = e.table;
    const now = e.now();
    const conns: SyncConn[] = [];
    const hw = t.highWater;
    let wrapped = false;
    for (let k = 0; k < maxSlots && conns.length < maxEntries; k++) {
      if (this.#cursor >= hw) {
        this.#cursor = 0;
        wrapped = true;
        if (hw === 0) break;
      }
      const id = this.#cursor++;
      if (!t.live(id)) {
        this.#state[id] = 255;
        continue;
      }
      if (this.#due(id, now, refreshMs)) {
        conns.push(exportSession(e, id));
        this.#record(id, now);
      }
    }
    return { conns, wrapped };
  }

  #record(id: number, now: number): void {
    const t = this.engine.table;
    this.#state[id] = t.state[id];
    this.#cport[id] = t.cport[id];
    this.#caddr[id] = t.caddr[id];
    this.#isn[id] = t.clientIsn[id];
    this.#sentAt[id] = now;
    this.#leftAtSend[id] = t.expires[id] - now;
    this.#expiresAtSend[id] = t.expires[id];
  }

  #due(id: number, now: number, refreshMs: number): boolean {
    const t = this.engine.table;
    const tcp = (t.proto[id] & ~V6) === IPPROTO.TCP;
    if (tcp && (SYNCED_TCP_STATES & (1 << t.state[id])) === 0) return false;
    const sent = this.#state[id];
    // A new session, another one in the slot since, or the same tuple reopened by a new SYN
    // (new sequence mapping) that may have come back to the state last sent.
    if (
      sent === 255 || this.#cport[id] !== t.cport[id] || this.#caddr[id] !== t.caddr[id] ||
      this.#isn[id] !== t.clientIsn[id]
    ) {
      // One that came by sync is where its master is: sent on once it changes here.
      if ((t.flags[id] & SessionFlag.SYNCED) === 0) return true;
      this.#record(id, now);
      return false;
    }
    if (tcp && sent !== t.state[id]) return true;
    const moved = t.expires[id] > this.#expiresAtSend[id];
    // The refresh: a session of this box's own (made here, or carried here since it came),
    // never one that only came by sync, which its master refreshes.
    if (
      refreshMs > 0 && now - this.#sentAt[id] >= refreshMs &&
      (moved || (t.flags[id] & SessionFlag.SYNCED) === 0)
    ) return true;
    return moved && now - this.#sentAt[id] >= this.#leftAtSend[id] / 2;
  }
}

/** Why a received entry was not installed (or `installed` / `updated`). */
export type InstallOutcome =
  | "installed"
  | "updated"
  | "template"
  | "no fullnat parameter"
  | "bad fullnat parameter"
  | "unknown forwarding method"
  | "service unknown"
  | "real server unknown"
  | "forwarding method differs"
  | "local address unknown"
  | "local port in use"
  | "session table full";

/** Scratch header whose source and destination are a received entry's client and virtual address. */
const probe = new Uint8Array(40);
const probeView = new DataView(probe.buffer);

/**
 * Installs (or updates) the session of `conn` in `e`; says what happened. `installed` hears
 * the id of a session installed or updated (the worker's scanner records it as sent).
 */
export function installSession(
  e: Engine,
  conn: SyncConn,
  installed?: (id: number) => void,
): InstallOutcome {
  if ((conn.flags & ConnFlag.TEMPLATE) !== 0) return "template";
  const method = METHOD_OF_FWD[conn.flags & ConnFlag.FWD_MASK];
  if (method === undefined) return "unknown forwarding method";
  const param = conn.params.find((p) => p.type === FULLNAT_PARAM_TYPE);
  const fn = param === undefined ? undefined : decodeFullnat(param.data);
  if (typeof fn === "string") return "bad fullnat parameter";
  // A mainline master's NAT, DR or TUNNEL entry needs nothing more; FULLNAT needs the local side.
  if (method === METHOD_FULLNAT && (fn === undefined || fn.laddr.length === 0)) {
    return "no fullnat parameter";
  }
  const reg = e.registry;
  const v6 = conn.v6;
  const svc = v6
    ? reg.find6(conn.protocol, Uint32Array.from(conn.vaddr), 0, conn.vport)
    : reg.find(conn.protocol, conn.vaddr[0] | 0, conn.vport);
  if (svc === undefined || svc.removed) return "service unknown";
  const rs = svc.servers.find((r) => r.port === conn.dport && sameAddress(r, conn.daddr, v6));
  if (rs === undefined) return "real server unknown";
  const rsMethod = methodCodeOf(rs);
  if (rsMethod !== method) return "forwarding method differs";
  let la: LocalAddress | undefined;
  if (method === METHOD_FULLNAT) {
    la = svc.localAddresses.find((l) => sameAddress(l, fn!.laddr, v6));
    if (la === undefined) return "local address unknown";
  }
  const fam = v6 ? INET6 : INET;
  const t = e.table;
  const proto = conn.protocol | (v6 ? V6 : 0);
  const now = e.now();
  const timeLeft = fn?.timeLeftMs ?? conn.timeout * 1000;
  const lport = la === undefined ? conn.cport : fn!.lport;

  const existing = findByClient(e, conn);
  if (existing !== NO_SESSION) {
    const same = t.server[existing] === rs.id &&
      (la === undefined
        ? t.local[existing] < 0
        : t.local[existing] === la.id && t.lport[existing] === lport);
    if (same) {
      update(e, existing, rs, conn, fn, now + timeLeft, false);
      installed?.(existing);
      return "updated";
    }
    // The master placed the client elsewhere since: its word replaces the old session.
    e.removeSession(existing);
  }
  if (la !== undefined && fam.localTaken(t, proto, rs, la, lport)) return "local port in use";
  const id = t.open(proto);
  if (id === NO_SESSION) return "session table full";
  setAddress(e, id, t.caddr, A6.C, conn.caddr);
  setAddress(e, id, t.vaddr, A6.V, conn.vaddr);
  setAddress(e, id, t.daddr, A6.D, conn.daddr);
  setAddress(e, id, t.laddr, A6.L, la === undefined ? conn.caddr : fn!.laddr);
  t.cport[id] = conn.cport;
  t.vport[id] = conn.vport;
  t.dport[id] = conn.dport;
  t.lport[id] = lport;
  t.method[id] = method;
  t.service[id] = svc.id;
  t.server[id] = rs.id;
  t.local[id] = la === undefined ? -1 : la.id;
  t.state[id] = TcpState.NONE;
  fam.relink(t, id);
  update(e, id, rs, conn, fn, now + timeLeft, true);
  svc.sessions++;
  svc.stats.conns++;
  rs.stats.conns++;
  if (la !== undefined) la.conns++;
  placeUnderTemplate(e, svc, rs, id);
  if ((t.flags[id] & SessionFlag.ONE_PACKET) !== 0) t.unlinkIn(id);
  installed?.(id);
  return "installed";
}

/** Sets the fields a sync entry may change on a session, moving the server's counts with them. */
function update(
  e: Engine,
  id: number,
  rs: RealServer,
  conn: SyncConn,
  fn: FullnatState | undefined,
  expires: number,
  fresh: boolean,
): void {
  const t = e.table;
  const wasActive = !fresh && t.state[id] === TcpState.ESTABLISHED;
  const state = conn.protocol === IPPROTO.TCP ? conn.state : 0;
  const active = conn.protocol === IPPROTO.TCP && state === TcpState.ESTABLISHED;
  if (fresh) {
    if (active) rs.activeConns++;
    else rs.inactiveConns++;
  } else if (wasActive !== active) {
    if (active) {
      rs.activeConns++;
      rs.inactiveConns--;
    } else {
      rs.activeConns--;
      rs.inactiveConns++;
    }
  }
  t.state[id] = state;
  t.expires[id] = expires;
  if (fn !== undefined) {
    // The one-packet bit follows the index the session was linked with, not the message; the
    // per-source count is this box's own (the master's says nothing of this box's table), and
    // so is the offload: the master's kernel holding a session says nothing of this one's.
    const local = SessionFlag.ONE_PACKET | SessionFlag.SOURCE_COUNTED | SessionFlag.OFFLOADED;
    t.flags[id] = (fn.sessionFlags & ~local) | (fresh ? 0 : t.flags[id] & local) |
      (fresh ? fn.sessionFlags & SessionFlag.ONE_PACKET : 0);
    t.seqDelta[id] = fn.seqDelta;
    t.clientIsn[id] = fn.clientIsn;
    t.rsAck[id] = fn.rsAck;
    t.rsSeqEnd[id] = fn.rsSeqEnd;
    t.proxySeq[id] = fn.proxy?.seq ?? 0;
    t.proxyTs[id] = fn.proxy?.ts ?? 0;
    t.proxyWscale[id] = fn.proxy?.wscale ?? 0;
  }
  t.flags[id] |= SessionFlag.SYNCED;
}

/** A persistent service's template for the client, if the backup has one for `rs`, counts the session. */
function placeUnderTemplate(e: Engine, svc: Service, rs: RealServer, id: number): void {
  if (svc.persistence <= 0 || svc.templates.size === 0) return;
  const t = e.table;
  const key = new Uint32Array(4);
  if ((t.proto[id] & V6) !== 0) {
    for (let w = 0; w < 4; w++) {
      key[w] = t.addr6[(id << 4) + A6.C + w];
    }
  } else key[0] = t.caddr[id];
  for (let w = 0; w < 4; w++) key[w] &= svc.maskWords[w];
  const slot = svc.templates.find(key, 0);
  if (slot >= 0 && svc.templates.server(slot) === rs) svc.templates.control(slot, 1);
}

/** The session whose client tuple is `conn`'s, or `NO_SESSION`. */
function findByClient(e: Engine, conn: SyncConn): number {
  probe.fill(0);
  if (conn.v6) {
    probe[0] = 0x60;
    for (let w = 0; w < 4; w++) {
      probeView.setUint32(8 + w * 4, conn.caddr[w]);
      probeView.setUint32(24 + w * 4, conn.vaddr[w]);
    }
  } else {
    probe[0] = 0x45;
    probeView.setUint32(12, conn.caddr[0]);
    probeView.setUint32(16, conn.vaddr[0]);
  }
  const fam = conn.v6 ? INET6 : INET;
  const proto = conn.protocol | (conn.v6 ? V6 : 0);
  const entry = fam.lookup(e.table, probe, 0, proto, conn.cport, conn.vport);
  // Only the client->virtual entry names the client tuple.
  return entry === NO_SESSION || (entry & 1) !== 0 ? NO_SESSION : entry >> 1;
}

function sameAddress(
  o: { addr: number; addr6: Uint32Array | undefined },
  w: readonly number[],
  v6: boolean,
) {
  if (!v6) return o.addr6 === undefined && w.length === 1 && (o.addr | 0) === (w[0] | 0);
  const a = o.addr6;
  return a !== undefined && w.length === 4 && a[0] === w[0] && a[1] === w[1] && a[2] === w[2] &&
    a[3] === w[3];
}

function setAddress(e: Engine, id: number, v4: Uint32Array, a6: number, w: readonly number[]) {
  if (w.length === 1) v4[id] = w[0];
  else for (let k = 0; k < 4; k++) e.table.addr6[(id << 4) + a6 + k] = w[k];
}

function methodCodeOf(rs: RealServer): number {
  return { fullnat: METHOD_FULLNAT, nat: METHOD_NAT, dr: METHOD_DR, tunnel: METHOD_TUNNEL }[
    rs.method
  ];
}
