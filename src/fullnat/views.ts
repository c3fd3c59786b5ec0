/**
 * What the engine shows of itself: services, real servers, local addresses and sessions as
 * listed (`ipvsadm -L -n [-c] [--stats]`, `-G`), with their counters.
 *
 * @module
 */
import type { ServiceRefusals } from "./service.ts";
export type { ServiceRefusals };
import type { ForwardMethod, Protocol } from "./types.ts";
import type {
  Endpoint,
  RealServerSpec,
  ServiceKey,
  ServiceOptions,
  SorryServerSpec,
} from "./service_spec.ts";

/** Traffic counters, as `ipvsadm -L --stats` shows them. */
export interface Stats {
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
}

/**
 * Rates per second, as `ipvsadm -L --rate` shows them (IPVS's estimator: a 2 s sample folded
 * into a moving average). The engine keeps only counters; the daemon estimates these from
 * them, so a listing straight from an engine has none.
 */
export interface Rates {
  /** Connections per second. */
  cps: number;
  inPps: number;
  outPps: number;
  /** Bytes (not bits) per second, as IPVS's InBPS/OutBPS. */
  inBps: number;
  outBps: number;
}

/** Service options a daemon from before them does not list. */
type OptionalListed =
  | "allow"
  | "deny"
  | "sourceRate"
  | "sourceSessions"
  | "schedulerFlags"
  | "mhTableSize"
  | "timeouts"
  | "onePacket"
  | "synProxy"
  | "persistenceMask";

/**
 * A real server as listed, with its live counters. `weight` is the configured weight; the
 * health fields (listed by daemons with health checks) say what the checks made of it.
 */
export interface RealServerView extends RealServerSpec {
  activeConns: number;
  inactiveConns: number;
  /**
   * Persistence templates pointing at this server (IPVS's `persistconns`, the PersistConn
   * column of `ipvsadm -L --persistent-conn`); absent from a daemon from before them.
   */
  persistConns?: number;
  /** Over its upper threshold now (listed by daemons that have thresholds). */
  overloaded?: boolean;
  stats: Stats;
  /** Present when the lister estimates rates (the daemon does). */
  rate?: Rates;
  /** What the health checks last said (true without checks). */
  up?: boolean;
  /** A weight a dynamic misc check set, in place of the configured one. */
  healthWeight?: number;
  /** The weight new connections are scheduled by: 0 while down or displaced by the sorry server. */
  currentWeight?: number;
  /**
   * False while the server is out of the service (down and not inhibited, or displaced by the
   * sorry server): `ipvsadm -L` leaves it out, as keepalived removes it from IPVS.
   */
  listed?: boolean;
}

/** A service's sorry server as listed. */
export interface SorryServerView extends SorryServerSpec {
  /** True while it stands in for the real servers (the quorum is lost). */
  active: boolean;
  currentWeight: number;
  activeConns: number;
  inactiveConns: number;
  stats: Stats;
  rate?: Rates;
}

/** What the daemon's health monitor tells the engine about one service (`setHealth`). */
export interface HealthUpdate {
  /** Real servers whose health is set; the others keep theirs. */
  servers?: { address: string; port: number; up: boolean; weight?: number | null }[];
  /** Whether the service has its quorum (the sorry server stands in while it has not). */
  quorumUp?: boolean;
}

/** A local address of a service as listed (`-G`). */
export interface LocalAddressView {
  address: string;
  /** Sessions currently using this address. */
  conns: number;
  /** Port choices refused because the tuple was already in use. */
  portConflicts: number;
}

/**
 * A virtual service as listed; the TCP tweaks are always present. The scheduler flags, mh
 * table size, persistence mask, own timeouts and one-packet switch are listed by every daemon that has them, and
 * optional so that the listing of a daemon from before them still reads (as none and the
 * default).
 */
export interface ServiceView
  extends
    ServiceKey,
    Required<Omit<ServiceOptions, OptionalListed | "quorum" | "hysteresis" | "sorryServer">>,
    Pick<ServiceOptions, OptionalListed | "quorum" | "hysteresis"> {
  /** Present when one is configured. */
  sorryServer?: SorryServerView;
  /** False while the daemon's health monitor has found the quorum lost. */
  quorumUp?: boolean;
  /**
   * New connections refused before a session was made, by cause (lists, per-source limits);
   * listed by every daemon that has them.
   */
  refused?: ServiceRefusals;
  realServers: RealServerView[];
  localAddresses: LocalAddressView[];
  stats: Stats;
  /** Present when the lister estimates rates (the daemon does). */
  rate?: Rates;
}

/**
 * One session as listed by `-L -n -c`, or a persistence template (`template: true`), which
 * IPVS lists among its connections: state `NONE`, the client's masked address with port 0 as
 * the client, the real server it holds, and no local endpoint (`0.0.0.0:0`, `[::]:0`).
 */
export interface ConnectionView {
  protocol: Protocol;
  method: ForwardMethod;
  /** Upper-case state name as ipvsadm prints it: ESTABLISHED, SYN_RECV, FIN_WAIT, ... */
  state: string;
  /** Milliseconds until the session expires if nothing more is seen. */
  expiresInMs: number;
  client: Endpoint;
  virtual: Endpoint;
  /** The local address and port (the client's own endpoint in NAT mode). */
  local: Endpoint;
  real: Endpoint;
  /** Present, and true, on persistence templates only. */
  template?: true;
  /**
   * Present, and true, while the kernel's conntrack carries the session (`--offload
   * established`): its state is the one it was handed over in, and `expiresInMs` the state's
   * whole timeout (the kernel's own timer is not read back).
   */
  offloaded?: true;
}
