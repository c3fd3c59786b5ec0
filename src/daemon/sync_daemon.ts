/**
 * The daemon's session sync (`ipvsadm --start-daemon master|backup`): a master collects the
 * sessions due from its workers (`WORKER_SYNC_SCAN_OP`) every {@linkcode SYNC_TICK_MS}, packs
 * them into IPVS version 1 messages of at most sync_maxlen bytes (signed when a key is set)
 * and sends them by UDP to the group (or the peer's unicast address); a backup reads them on
 * its interface, refuses what is malformed, foreign, unsigned, forged or replayed (counted,
 * nothing changed), and hands each entry to the worker that would have made it (the one whose
 * local port slice holds its local port, which is the one its client address is steered to)
 * to install (`WORKER_SYNC_INSTALL_OP`). Both roles may run at once, as in IPVS.
 *
 * @module
 */
import dgram from "node:dgram";
import { ControlError } from "../fullnat/types.ts";
import { addressBuckets } from "../kernel/diversion_rules.ts";
import { AUTH_PARAM_LENGTH, checkSignature, ReplayGuard, signMessage } from "../sync/auth.ts";
import { decodeFullnat, FULLNAT_PARAM_TYPE } from "../sync/fullnat_param.ts";
import type { InstallOutcome } from "../sync/session_sync.ts";
import {
  effectiveMaxlen,
  formatSyncDaemon,
  isMulticast,
  isV6Group,
  type SyncDaemonSpec,
  type SyncRole,
} from "../sync/sync_config.ts";
import {
  decodeMessage,
  entryLength,
  packEntries,
  type SyncConn,
  writeEntry,
} from "../sync/wire.ts";
import { WORKER_SYNC_INSTALL_OP, WORKER_SYNC_SCAN_OP } from "./worker_protocol.ts";

/** Milliseconds between a master's scans of its workers (IPVS flushes within 2 s). */
export const SYNC_TICK_MS = 200;
/** Table slots one scan of one worker walks, and entries it returns at most. */
const SCAN_SLOTS = 1 << 18;
const SCAN_ENTRIES = 4096;

/** What the daemon's sync needs of the worker pool. */
export interface SyncWorkers {
  readonly size: number;
  call(index: number, op: string, args?: unknown[]): Promise<unknown>;
}

/** Options of {@linkcode SyncDaemons}. */
export interface SyncDaemonsOptions {
  workers: SyncWorkers;
  /** Each worker's local port slice, in worker order. */
  localPorts: readonly (readonly [number, number])[];
  /** How often (ms) each session of this box's own is sent again unchanged; 0 or absent: never. */
  refreshMs?: number;
  /** The shared key that signs (master) and must sign (backup) every message; none: unsigned. */
  key?: Uint8Array;
  log: (message: string) => void;
  /** The interfaces, by name; default `Deno.networkInterfaces()` (tests stand others in). */
  interfaces?: () => Deno.NetworkInterfaceInfo[];
  /** An interface's MTU; default read from /sys/class/net. */
  mtu?: (name: string) => number;
}

/** A master's counters. */
export interface MasterCounters {
  messages: number;
  entries: number;
  bytes: number;
  sendErrors: number;
  scanErrors: number;
}

/** A backup's counters: what arrived, what was refused whole, what became of the entries. */
export interface BackupCounters {
  messages: number;
  bytes: number;
  /** Messages refused whole, by reason (malformed, other syncid, unsigned, forged, replayed). */
  refused: Record<string, number>;
  /** Entries, by outcome: installed, updated, or why not. */
  entries: Record<string, number>;
}

/** One running daemon as listed. */
export interface SyncDaemonView {
  spec: SyncDaemonSpec;
  maxlen: number;
  /** `ipvsadm -L --daemon`'s line. */
  line: string;
  signed: boolean;
  master?: MasterCounters;
  backup?: BackupCounters;
}

interface Running {
  spec: SyncDaemonSpec;
  maxlen: number;
  socket: dgram.Socket;
  timer?: ReturnType<typeof setInterval>;
  master?: MasterCounters;
  backup?: BackupCounters;
}

const bump = (r: Record<string, number>, k: string, n = 1) => r[k] = (r[k] ?? 0) + n;

/** The master and backup sync daemons of one fullnat daemon. */
export class SyncDaemons {
  readonly #o: SyncDaemonsOptions;
  readonly #running = new Map<SyncRole, Running>();
  readonly #epoch = crypto.getRandomValues(new Uint32Array(1))[0];
  #counter = 0;
  readonly #replay = new ReplayGuard();

  constructor(options: SyncDaemonsOptions) {
    this.#o = options;
  }

  /** Starts the daemon of `spec.role`; refuses (ipvsadm's words) if it runs or cannot start. */
  async start(spec: SyncDaemonSpec): Promise<void> {
    if (this.#running.has(spec.role)) {
      throw new ControlError("invalid-argument", "Daemon has already run");
    }
    const v6 = isV6Group(spec.group);
    const ifaces = (this.#o.interfaces ?? Deno.networkInterfaces)();
    const local = ifaces.find((i) =>
      i.name === spec.mcastInterface && i.family === (v6 ? "IPv6" : "IPv4")
    );
    if (local === undefined) {
      throw new ControlError(
        "invalid-argument",
        `No such device: no ${v6 ? "IPv6" : "IPv4"} address on mcast interface ` +
          `'${spec.mcastInterface}'`,
      );
    }
    const maxlen = effectiveMaxlen(spec, (this.#o.mtu ?? interfaceMtu)(spec.mcastInterface));
    const socket = dgram.createSocket({ type: v6 ? "udp6" : "udp4", reuseAddr: true });
    const r: Running = { spec, maxlen, socket };
    try {
      if (spec.role === "master") await this.#openMaster(r, local.address);
      else await this.#openBackup(r, local.address);
    } catch (e) {
      socket.close();
      throw new ControlError(
        "invalid-argument",
        `cannot start the ${spec.role} sync daemon: ${e instanceof Error ? e.message : e}`,
      );
    }
    this.#running.set(spec.role, r);
    this.#o.log(
      `sync: ${formatSyncDaemon(spec, maxlen)} started${this.#o.key ? ", signed" : ""}`,
    );
  }

  /** Stops the daemon of `role`; refuses when none runs. */
  stop(role: SyncRole): void {
    const r = this.#running.get(role);
    if (r === undefined) throw new ControlError("invalid-argument", "No daemon is running");
    this.#close(r);
    this.#running.delete(role);
    this.#o.log(`sync: ${role} sync daemon stopped`);
  }

  /** The running daemons, master first. */
  list(): SyncDaemonView[] {
    return (["master", "backup"] as const).flatMap((role) => {
      const r = this.#running.get(role);
      if (r === undefined) return [];
      return [{
        spec: { ...r.spec },
        maxlen: r.maxlen,
        line: formatSyncDaemon(r.spec, r.maxlen),
        signed: this.#o.key !== undefined,
        ...(r.master && { master: { ...r.master } }),
        ...(r.backup && {
          backup: {
            ...r.backup,
            refused: { ...r.backup.refused },
            entries: { ...r.backup.entries },
          },
        }),
      }];
    });
  }

  /** Stops both. */
  close(): void {
    for (const r of this.#running.values()) this.#close(r);
    this.#running.clear();
  }

  #close(r: Running): void {
    clearInterval(r.timer);
    try {
      r.socket.close();
    } catch {
      // Already closed by an error.
    }
  }

  async #openMaster(r: Running, address: string): Promise<void> {
    const s = r.socket;
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind({ address, port: 0 }, () => {
        s.off("error", reject);
        resolve();
      });
    });
    if (isMulticast(r.spec.group)) {
      s.setMulticastTTL(r.spec.ttl);
      s.setMulticastLoopback(false);
      s.setMulticastInterface(address);
    } else s.setTTL(r.spec.ttl);
    s.on("error", (e) => this.#o.log(`sync: master socket: ${e.message}`));
    r.master = { messages: 0, entries: 0, bytes: 0, sendErrors: 0, scanErrors: 0 };
    let busy = false;
    let first = true;
    r.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      const restart = first;
      first = false;
      this.#masterTick(r, restart).finally(() => busy = false);
    }, SYNC_TICK_MS);
  }

  async #masterTick(r: Running, restart: boolean): Promise<void> {
    const c = r.master!;
    const entries: Uint8Array[] = [];
    for (let i = 0; i < this.#o.workers.size; i++) {
      let conns: SyncConn[];
      try {
        conns = await this.#o.workers.call(i, WORKER_SYNC_SCAN_OP, [
          SCAN_SLOTS,
          SCAN_ENTRIES,
          restart,
          this.#o.refreshMs ?? 0,
        ]) as SyncConn[];
      } catch (e) {
        if (c.scanErrors++ === 0) this.#o.log(`sync: collecting sessions failed: ${e}`);
        continue;
      }
      for (const conn of conns) {
        const b = new Uint8Array(entryLength(conn));
        writeEntry(b, 0, conn);
        entries.push(b);
      }
    }
    if (entries.length === 0 || !this.#running.has("master")) return;
    const key = this.#o.key;
    const messages = packEntries(entries, r.spec.syncid, r.maxlen, key ? AUTH_PARAM_LENGTH : 0)
      .map((m) => key ? signMessage(m, key, this.#epoch, ++this.#counter) : m);
    for (const m of messages) {
      r.socket.send(m, r.spec.port, r.spec.group, (e) => {
        if (e) {
          if (c.sendErrors++ === 0) this.#o.log(`sync: sending failed: ${e.message}`);
        } else {
          c.messages++;
          c.entries += m[4];
          c.bytes += m.length;
        }
      });
    }
  }

  async #openBackup(r: Running, address: string): Promise<void> {
    const s = r.socket;
    const multicast = isMulticast(r.spec.group);
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      // Bound to the group, the socket reads only datagrams sent to it (as the kernel's).
      s.bind({ port: r.spec.port, address: multicast ? r.spec.group : undefined }, () => {
        s.off("error", reject);
        resolve();
      });
    });
    if (multicast) s.addMembership(r.spec.group, address);
    s.on("error", (e) => this.#o.log(`sync: backup socket: ${e.message}`));
    r.backup = { messages: 0, bytes: 0, refused: {}, entries: {} };
    s.on("message", (msg: Uint8Array) => {
      this.#receive(r, new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)).catch((e) =>
        this.#o.log(`sync: installing sessions failed: ${e}`)
      );
    });
  }

  async #receive(r: Running, buf: Uint8Array): Promise<void> {
    const c = r.backup!;
    c.messages++;
    c.bytes += buf.length;
    if (buf.length > r.maxlen) return void bump(c.refused, "longer than sync-maxlen");
    const d = decodeMessage(buf, r.spec.syncid);
    if (!d.ok) return void bump(c.refused, d.fault);
    const key = this.#o.key;
    if (key !== undefined) {
      const auth = checkSignature(buf, key);
      if (!auth.ok) return void bump(c.refused, auth.fault);
      if (!this.#replay.accept(auth.epoch, auth.counter)) return void bump(c.refused, "replayed");
    }
    for (const [why, n] of Object.entries(d.skipped)) bump(c.entries, `skipped: ${why}`, n);
    const byWorker: SyncConn[][] = Array.from({ length: this.#o.workers.size }, () => []);
    for (const conn of d.conns) {
      const w = this.#workerOf(conn);
      if (w < 0) bump(c.entries, "steered to another worker");
      else byWorker[w].push(conn);
    }
    await Promise.all(byWorker.map(async (conns, i) => {
      if (conns.length === 0) return;
      const got = await this.#o.workers.call(i, WORKER_SYNC_INSTALL_OP, [conns]) as Partial<
        Record<InstallOutcome, number>
      >;
      for (const [k, n] of Object.entries(got)) bump(c.entries, k, n ?? 0);
    }));
  }

  /**
   * The worker that owns `conn`: the one its client address is steered to; for a session with
   * a local port that must also be the worker whose slice holds the port (-1 when not: the
   * two boxes' worker counts or port ranges differ).
   */
  #workerOf(conn: SyncConn): number {
    const n = this.#o.workers.size;
    if (n === 1) return 0;
    const { mask, ranges } = addressBuckets(n);
    const low = conn.caddr[conn.caddr.length - 1] & mask;
    const byClient = ranges.findIndex(([lo, hi]) => low >= lo && low <= hi);
    const param = conn.params.find((p) => p.type === FULLNAT_PARAM_TYPE);
    const fn = param === undefined ? undefined : decodeFullnat(param.data);
    if (fn === undefined || typeof fn === "string" || fn.laddr.length === 0) return byClient;
    const byPort = this.#o.localPorts.findIndex(([lo, hi]) => fn.lport >= lo && fn.lport <= hi);
    return byPort === byClient ? byPort : -1;
  }
}

/** The MTU of interface `name` (1500 when it cannot be read). */
export function interfaceMtu(name: string): number {
  try {
    const n = Number(Deno.readTextFileSync(`/sys/class/net/${name}/mtu`).trim());
    return Number.isInteger(n) && n > 0 ? n : 1500;
  } catch {
    return 1500;
  }
}
