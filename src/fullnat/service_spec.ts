/**
 * How the control plane names and configures virtual services and real servers (ipvsadm's
 * `-t|-u VIP:port`, `-s`, `-p`, `-r RS:port -b|-m -w W`, and the FULLNAT TCP tweaks).
 * Addresses are text; the engine converts them once, when configuration changes.
 *
 * @module
 */
import type { TunnelType } from "../vocab/tunnel_type.ts";
import type { ForwardMethod, Protocol, SchedulerFlag, SchedulerName } from "../vocab/mod.ts";
import type { Timeouts } from "./timeouts.ts";
import type { CheckSpec } from "../health/spec.ts";

/** An address and port, as shown to people and scripts. */
export interface Endpoint {
  address: string;
  port: number;
}

/** Identifies a virtual service: protocol, virtual address and port (`-t|-u VIP:port`). */
export interface ServiceKey {
  protocol: Protocol;
  address: string;
  port: number;
}

/**
 * `tcp 198.51.100.10 80`: a service's identity as one string, by which state a previous
 * process left (sessions, counters) finds the service again whatever its id.
 */
export function serviceIdentity(k: ServiceKey): string {
  return `${k.protocol} ${k.address} ${k.port}`;
}

/** Settable properties of a virtual service (`-s`, `-b`, `-p`, and the FULLNAT TCP tweaks). */
export interface ServiceOptions {
  scheduler: SchedulerName;
  /**
   * Scheduler flags (ipvsadm `-b`): sh-fallback and sh-port for sh, mh-fallback and mh-port
   * for mh; none for the others. Listed in table order. When an edit changes the scheduler
   * without giving flags, the service has none.
   */
  schedulerFlags?: SchedulerFlag[];
  /**
   * Positions of the mh lookup table, one of `MH_TABLE_SIZES` (mh only; default 4093). When an
   * edit changes the scheduler away from mh, it returns to the default.
   */
  mhTableSize?: number;
  /** Client persistence in seconds (`-p`); 0 turns it off. */
  persistence: number;
  /**
   * Persistence granularity (`-M`) as a prefix length: clients in one prefix share a template.
   * 0-32 for an IPv4 service, 0-128 for an IPv6 one; default the whole address (32 or 128).
   * Changing it forgets the service's templates.
   */
  persistenceMask?: number;
  /** Insert the client address as a TOA option into SYN, third ACK and early data (default on). */
  toa?: boolean;
  /** Overwrite the timestamp option of client SYNs with NOPs (default on). */
  stripTimestamps?: boolean;
  /** Lower the MSS of real-server SYN-ACKs by the TOA length (default on). */
  clampMss?: boolean;
  /**
   * The service's own session timeouts in seconds (Alibaba ipvsadm's `-V` sets
   * `tcpEstablished`); the engine's apply to the rest. An edit changes only the keys given, and
   * 0 takes a key out (the engine's timeout applies again). TCP services take only the `tcp*`
   * keys, UDP services only `udp`.
   */
  timeouts?: Partial<Timeouts>;
  /**
   * SYN proxy (ipvsadm `-j enable`, Alibaba LVS's `--synproxy`, TCP services only; default
   * off): SYNs are answered with cookies and only clients that complete the handshake reach a
   * real server (`syn_proxy.ts`).
   */
  synProxy?: boolean;
  /** One-packet scheduling (ipvsadm `-o`, UDP services only; default off). */
  onePacket?: boolean;
  /**
   * keepalived's `quorum` (default 1): the service has its quorum while the weights of its live
   * real servers add up to at least this much; below it the sorry server stands in.
   */
  quorum?: number;
  /** keepalived's `hysteresis` (default 0): the margin around `quorum` that damps flapping. */
  hysteresis?: number;
  /**
   * Client prefixes (`address/length`, or an address for one host) allowed to open
   * connections, DPVS's whitelist: when not empty, a new connection from any other source is
   * refused. Default none. In an edit, the list given replaces the service's.
   */
  allow?: string[];
  /**
   * Client prefixes refused new connections, DPVS's blacklist; it wins over `allow`. Default
   * none. Lists apply to new connections only: sessions already open go on.
   */
  deny?: string[];
  /**
   * New connections per second one client address may open (a burst of one second's worth);
   * 0 or left out: no limit.
   */
  sourceRate?: number;
  /** Sessions one client address may hold open at once; 0 or left out: no limit. */
  sourceSessions?: number;
  /**
   * keepalived's `sorry_server`: serves the service alone while the quorum is lost (all real
   * servers down, or too little live weight). In an edit, null removes it.
   */
  sorryServer?: SorryServerSpec | null;
}

/** The default quorum of a service (keepalived's). */
export const DEFAULT_QUORUM = 1;

/** Largest quorum or hysteresis accepted (a sum of weights; well inside a 32-bit integer). */
export const QUORUM_MAX = 0x7fffffff;

/** A service's sorry server: where new connections go while the quorum is lost. */
export interface SorryServerSpec {
  address: string;
  port: number;
  method: ForwardMethod;
}

/** The service options of {@linkcode ServiceOptions} that guard new connections by source. */
export const SOURCE_GUARD_KEYS = ["allow", "deny", "sourceRate", "sourceSessions"] as const;
/** One of {@linkcode SOURCE_GUARD_KEYS}. */
export type SourceGuardKey = typeof SOURCE_GUARD_KEYS[number];

/** Largest `sourceRate` or `sourceSessions` accepted. */
export const SOURCE_LIMIT_MAX = 0x7fffffff;

/** Most prefixes one allow or deny list may hold. */
export const MAX_SOURCE_PREFIXES = 65536;

/** Most health checks one real server may carry. */
export const MAX_CHECKS_PER_SERVER = 16;

/** The per-service TCP tweaks, all on unless switched off. */
export const DEFAULT_TCP_TWEAKS: Readonly<
  Required<Pick<ServiceOptions, "toa" | "stripTimestamps" | "clampMss">>
> = Object.freeze({ toa: true, stripTimestamps: true, clampMss: true });

/** A real server of a service (`-r RS:port -b|-m -w W`). */
export interface RealServerSpec {
  address: string;
  port: number;
  /** 0 quiesces the server: existing connections go on, new ones go elsewhere. */
  weight: number;
  method: ForwardMethod;
  /**
   * Connection thresholds (ipvsadm `-x`, `-y`; 0 or left out: none): at `upperThreshold`
   * sessions the server takes no new ones until it is back under `lowerThreshold` (or, with
   * none, under 3/4 of the upper one).
   */
  upperThreshold?: number;
  lowerThreshold?: number;
  /**
   * Health checks (default none: always up). All must be up for the server to be up; the
   * daemon runs them, the engine only keeps them with the server's configuration.
   */
  checks?: CheckSpec[];
  /**
   * keepalived's `inhibit_on_failure` (default false). When the checks take the server down:
   * true keeps it listed with weight 0; false takes it out of the listing until it recovers.
   * Either way it gets no new connections and its established ones go on.
   */
  inhibitOnFailure?: boolean;
  /**
   * TUNNEL only: the encapsulation (ipvsadm `--tun-type`; default ipip), GUE's UDP port
   * (`--tun-port`, required for gue) and a checksum in the GUE or GRE header (`--tun-csum`;
   * default off). Which go together: `src/vocab/tunnel_type.ts`.
   */
  tunnelType?: TunnelType;
  tunnelPort?: number;
  tunnelChecksum?: boolean;
}
