/**
 * Configuration objects the engine schedules over: virtual services, their real servers and
 * their local-address pools. Objects outlive their removal from configuration while sessions
 * still refer to them, so established connections finish undisturbed.
 *
 * @module
 */
import type { ForwardMethod, SchedulerName, ServiceKey, Stats } from "./types.ts";
import type { CheckSpec } from "../health/spec.ts";
import { DEFAULT_MH_TABLE_SIZE, prefixMaskWords } from "../vocab/mod.ts";
import { drMark } from "./dr_mark.ts";
import { newStats } from "./stats.ts";
import type { PrefixSet } from "./prefix_set.ts";
import type { SourceTable } from "./source_table.ts";
import { TemplateTable } from "./template_table.ts";
import { tcpTimeoutTable } from "./tcp_state.ts";
import { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";

/**
 * How long a one-packet session waits for its reply when the service sets no UDP timeout of
 * its own, in milliseconds: long enough for a DNS answer, short enough that datagrams nobody
 * answers (syslog, lost queries) hold few local ports.
 */
export const OPS_REPLY_WINDOW_MS = 2000;

/** A real server of one service. */
export class RealServer {
  /** The address as four words when it is IPv6 (then `addr` is unused). */
  addr6: Uint32Array | undefined;
  /** Set when the server was deleted from its service; it lives on while sessions use it. */
  removed = false;
  activeConns = 0;
  inactiveConns = 0;
  /** Persistence templates that point here (IPVS's `persistconns`). */
  persistConns = 0;
  /**
   * The last weight above 0 (0 if it never had one): mh keeps a quiesced server's table
   * positions by it, so setting a weight to 0 moves no other client (IPVS's `last_weight`).
   */
  lastWeight: number;
  readonly stats: Stats = newStats();
  /** Connection thresholds as configured (ipvsadm `-x`, `-y`); 0 is none. */
  upperThreshold = 0;
  lowerThreshold = 0;
  /**
   * This engine's share of the thresholds: a daemon's packet workers each count their own
   * sessions, so each holds its part of the configured figure (`thresholds.ts`).
   */
  upperLimit = 0;
  lowerLimit = 0;
  /**
   * Over its upper threshold (IPVS's `IP_VS_DEST_F_OVERLOAD`): every scheduler passes it over
   * until its sessions fall below the lower threshold.
   */
  overloaded = false;
  /**
   * The weight the operator configured. `weight` is the one the schedulers use: the same
   * unless health checks hold the server down (0), a dynamic check set another, or the sorry
   * server stands in (`health_state.ts` derives it).
   */
  configWeight: number;
  /** Health checks as configured (run by the daemon, kept here with the configuration). */
  checks: readonly CheckSpec[] = [];
  /** Listed with weight 0 (true) or left out of the listing (false) while down. */
  inhibitOnFailure = false;
  /** What the daemon's checks last said; true until they say otherwise (keepalived's start). */
  healthy = true;
  /** A weight a dynamic misc check asked for, replacing `configWeight` while set. */
  healthWeight: number | undefined = undefined;
  /**
   * False while the server is out of the service as keepalived would have it out of IPVS: down
   * and not inhibited, or displaced by the sorry server. It is then not listed, holds no place
   * in the hashing tables, and gets no new connections; its sessions go on.
   *
   * A session whose server is `removed || !listed` (`outOfService()` in health_state.ts) is
   * to a destination IPVS no longer has: with `expireNodestConn` on it ends at its next client
   * packet, as for a deleted server (`Engine.#nodest`).
   */
  listed = true;
  /** True on the object that is its service's sorry server, not one of its real servers. */
  sorry = false;
  /**
   * TUNNEL's encapsulation (`tunnelTypeCode`: 0 ipip, 1 gue, 2 gre), GUE's UDP port and
   * whether the GUE or GRE header carries a checksum (`xmit_tunnel.ts`).
   */
  tunType = 0;
  tunPort = 0;
  tunCsum = false;
  /** The mark of DR packets to this server (`dr_mark.ts`); set for every method, used by DR. */
  readonly mark: number;
  constructor(
    readonly id: number,
    readonly service: Service,
    readonly addr: number,
    readonly address: string,
    readonly port: number,
    public weight: number,
    public method: ForwardMethod,
  ) {
    this.lastWeight = weight;
    this.configWeight = weight;
    this.mark = drMark(address);
  }

  /** Sessions that still refer to this server. */
  get sessions(): number {
    return this.activeConns + this.inactiveConns;
  }
}

/** A local address in one service's pool, with its port cursor. */
export class LocalAddress {
  removed = false;
  /** The address as four words when it is IPv6 (then `addr` is unused). */
  addr6: Uint32Array | undefined;
  /** Sessions currently using this address. */
  conns = 0;
  /** Port choices refused because the tuple was already taken. */
  portConflicts = 0;
  #nextPort: number;
  constructor(
    readonly id: number,
    readonly service: Service,
    readonly addr: number,
    readonly address: string,
    readonly portLow: number,
    readonly portHigh: number,
  ) {
    this.#nextPort = portLow;
  }

  /** The next candidate port, cycling through the configured range. */
  takePort(): number {
    const p = this.#nextPort;
    this.#nextPort = p >= this.portHigh ? this.portLow : p + 1;
    return p;
  }
}

/** A virtual service. */
export class Service {
  removed = false;
  /** The virtual address as four words when the service is IPv6 (then `vaddr` is unused). */
  vaddr6: Uint32Array | undefined;
  readonly servers: RealServer[] = [];
  readonly localAddresses: LocalAddress[] = [];
  readonly stats: Stats = newStats();
  /** Persistence templates by masked client address (`persistence.ts`). */
  readonly templates: TemplateTable = new TemplateTable();
  /**
   * Persistence granularity as a prefix length (`-M`): 32 (IPv4) or 128 (IPv6) keeps one
   * template per client. Set with {@linkcode Service.setPersistenceMask}, which keeps
   * `maskWords` in step.
   */
  persistenceMask = 32;
  /** The mask of `persistenceMask` as four words, most significant first. */
  readonly maskWords: Uint32Array = prefixMaskWords(32, new Uint32Array(4));
  /** Sessions that still refer to this service (it lives on after deletion until they end). */
  sessions = 0;
  /** FULLNAT TCP tweaks (seed 4.3, 4.4.1, 4.4.2; README "TCP fidelity"): TOA insertion, SYN timestamp removal, MSS clamp. */
  toa = true;
  stripTimestamps = true;
  clampMss = true;
  /**
   * SYN proxy (ipvsadm `-j enable`, `syn_proxy.ts`): the balancer answers SYNs with cookies
   * and opens the connection to the real server only for a client that completed the
   * handshake. Off by default, as in Alibaba's LVS.
   */
  synProxy = false;
  /** Round-robin cursor over local addresses. */
  localCursor = 0;
  /** Scheduler state: index of the last server chosen and, for wrr, the current weight. */
  schedIndex = -1;
  schedWeight = 0;
  /** Scheduler flag bits (`SCHED_FALLBACK`, `SCHED_PORT` of `scheduler_hashed.ts`). */
  schedFlags = 0;
  /** Positions of the mh lookup table (a prime of `MH_TABLE_SIZES`). */
  mhTableSize: number = DEFAULT_MH_TABLE_SIZE;
  /**
   * sh, dh, mh: table entry to index in `servers` (-1: none), rebuilt by `rebuildSchedule()`
   * whenever the servers, their weights or the scheduler settings change; empty otherwise.
   */
  schedTable: Int32Array = new Int32Array(0);
  /** Servers with a positive weight when `schedTable` was built. */
  schedAvailable = 0;
  /** Servers over their upper threshold now (so a refusal or a pass-over is counted as theirs). */
  overloadedServers = 0;
  /** One-packet scheduling (ipvsadm `-o`, UDP only): every datagram is scheduled on its own. */
  onePacket = false;
  /** This service's own timeouts (seconds); the engine's apply to the rest. */
  timeoutOverrides: Partial<Timeouts> = {};
  /** Idle timeout per TCP state in milliseconds: the engine's, with the overrides applied. */
  tcpTimeoutMs: Float64Array = tcpTimeoutTable(DEFAULT_TIMEOUTS);
  /** Idle timeout of UDP sessions in milliseconds, likewise. */
  udpTimeoutMs: number = DEFAULT_TIMEOUTS.udp * 1000;
  /**
   * How long a one-packet session waits for its reply: the service's UDP timeout when it sets
   * one, else {@linkcode OPS_REPLY_WINDOW_MS} (at most the engine's UDP timeout).
   */
  opsWindowMs: number = OPS_REPLY_WINDOW_MS;
  /** keepalived's quorum and hysteresis (`health_state.ts`; the daemon decides `quorumUp`). */
  quorum = 1;
  hysteresis = 0;
  /** False while the daemon's health monitor says the quorum is lost. */
  quorumUp = true;
  /**
   * The allow and deny lists of client prefixes as configured (canonical `address/length`);
   * empty: no list. A new connection from a denied source, or from one outside a non-empty
   * allow list, is refused (`admission.ts`).
   */
  allow: readonly string[] = [];
  deny: readonly string[] = [];
  /** The lists as prefix sets (undefined while empty), for the packet path. */
  allowSet: PrefixSet | undefined = undefined;
  denySet: PrefixSet | undefined = undefined;
  /** Per-source limits as configured (`--source-rate`, `--source-sessions`); 0 is none. */
  sourceRate = 0;
  sourceSessions = 0;
  /** This engine's share of them (a daemon's packet workers each count their own). */
  sourceRateLimit = 0;
  sourceSessionsLimit = 0;
  /** Per-source counts, while a per-source limit is set. */
  sources: SourceTable | undefined = undefined;
  /** True when new connections pass a list or a per-source limit (`admission.ts`). */
  guarded = false;
  /** New connections this service refused before making a session, by cause. */
  readonly refused: ServiceRefusals = newServiceRefusals();
  /**
   * The sorry server, when one is configured: an entry of `servers` (so sessions, counters and
   * takeover treat it as any server) marked `sorry`, with weight 0 unless it stands in.
   */
  sorryServer: RealServer | undefined = undefined;
  constructor(
    readonly id: number,
    readonly key: ServiceKey,
    readonly proto: number,
    readonly vaddr: number,
    public scheduler: SchedulerName,
    public persistence: number,
  ) {}

  /** Sets the persistence granularity (a prefix length valid for the service's family). */
  setPersistenceMask(length: number): void {
    this.persistenceMask = length;
    prefixMaskWords(length, this.maskWords);
  }
  /** Recomputes the session timeouts from the engine's (`global`) and this service's own. */
  applyTimeouts(global: Timeouts): void {
    const t = { ...global, ...this.timeoutOverrides };
    this.tcpTimeoutMs = tcpTimeoutTable(t);
    this.udpTimeoutMs = t.udp * 1000;
    this.opsWindowMs = this.timeoutOverrides.udp !== undefined
      ? t.udp * 1000
      : Math.min(OPS_REPLY_WINDOW_MS, t.udp * 1000);
  }
}

/** New connections a service refused before making a session, by cause. */
export interface ServiceRefusals {
  /** From a source its deny list holds, or that its non-empty allow list does not. */
  aclDenied: number;
  /** From a source over its rate of new connections (`--source-rate`). */
  sourceRate: number;
  /** From a source holding its limit of sessions (`--source-sessions`). */
  sourceSessions: number;
}

/** Zeroed refusal counters. */
export function newServiceRefusals(): ServiceRefusals {
  return { aclDenied: 0, sourceRate: 0, sourceSessions: 0 };
}

/** True when the schedulers may pick `rs`: a positive weight and not over its threshold. */
export function schedulable(rs: RealServer): boolean {
  return rs.weight > 0 && !rs.overloaded;
}
