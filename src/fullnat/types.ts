/**
 * The contract between the packet engine and everything that drives it: the control plane
 * (services, real servers, local addresses, timeouts, listings) and the queue loop (verdicts).
 *
 * Addresses cross this boundary as strings in their usual text form ("10.0.0.1"); the engine
 * converts them once, when configuration changes, never per packet.
 *
 * @module
 */

import type { ForwardMethod, Protocol, SchedulerName } from "../vocab/mod.ts";
// The vocabulary types are defined by src/vocab's tables; re-exported so the contract reads whole.
export type { ForwardMethod, Protocol, SchedulerName };

/** What the queue loop does with a packet after the engine has seen it. */
export const Verdict = {
  /** Let the packet continue unchanged (no payload in the verdict). */
  Accept: 0,
  /** Let the packet continue with the bytes the engine rewrote (`outLength` bytes). */
  Rewritten: 1,
  /** Drop the packet; the engine has counted why. */
  Drop: 2,
} as const;
/** One of the {@linkcode Verdict} values. */
export type Verdict = typeof Verdict[keyof typeof Verdict];

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

/** Settable properties of a virtual service (`-s`, `-p`, and the FULLNAT TCP tweaks). */
export interface ServiceOptions {
  scheduler: SchedulerName;
  /** Client persistence in seconds (`-p`); 0 turns it off. */
  persistence: number;
  /** Insert the client address as a TOA option into SYN, third ACK and early data (default on). */
  toa?: boolean;
  /** Overwrite the timestamp option of client SYNs with NOPs (default on). */
  stripTimestamps?: boolean;
  /** Lower the MSS of real-server SYN-ACKs by the TOA length (default on). */
  clampMss?: boolean;
}

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
}

/** Traffic counters, as `ipvsadm -L --stats` shows them. */
export interface Stats {
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
}

/** A real server as listed, with its live counters. */
export interface RealServerView extends RealServerSpec {
  activeConns: number;
  inactiveConns: number;
  stats: Stats;
}

/** A local address of a service as listed (`-G`). */
export interface LocalAddressView {
  address: string;
  /** Sessions currently using this address. */
  conns: number;
  /** Port choices refused because the tuple was already in use. */
  portConflicts: number;
}

/** A virtual service as listed; the TCP tweaks are always present. */
export interface ServiceView extends ServiceKey, Required<ServiceOptions> {
  realServers: RealServerView[];
  localAddresses: LocalAddressView[];
  stats: Stats;
}

/** One session as listed by `-L -n -c`. */
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
}

/**
 * Where the engine hands packets it originates itself (RSTs to both ends when an
 * ESTABLISHED session expires): a complete IP packet at `b[o, o+len)`, valid only during the
 * call. The daemon sends it through a raw socket.
 */
export type PacketSink = (b: Uint8Array, o: number, len: number) => void;

/** Session timeouts in seconds, per TCP state and for UDP. */
export interface Timeouts {
  tcpEstablished: number;
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpFinWait: number;
  tcpTimeWait: number;
  tcpClose: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  udp: number;
}

/** Defaults of Alibaba LVS and DPVS (DESIGN section 4). */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  tcpEstablished: 90,
  tcpSynSent: 3,
  tcpSynRecv: 30,
  tcpFinWait: 7,
  tcpTimeWait: 7,
  tcpClose: 3,
  tcpCloseWait: 7,
  tcpLastAck: 7,
  udp: 300,
});

/** What the data path must divert into the queue for the current configuration. */
export interface DiversionSpec {
  /** Client traffic: everything to these virtual services. */
  services: ServiceKey[];
  /** FULLNAT return traffic: everything from real servers to these local addresses. */
  localAddresses: string[];
  /** NAT-mode return traffic: everything from these real servers' address, port and protocol. */
  natRealServers: Array<{ protocol: Protocol; address: string; port: number }>;
}

/** Why a control operation was refused; `message` is what ipvsadm would print. */
export type ControlErrorCode =
  | "invalid-argument"
  | "service-exists"
  | "no-service"
  | "dest-exists"
  | "no-dest"
  | "laddr-exists"
  | "no-laddr"
  | "unsupported";

/** A refused control operation. Nothing was changed when this is thrown. */
export class ControlError extends Error {
  constructor(readonly code: ControlErrorCode, message: string) {
    super(message);
    this.name = "ControlError";
  }
}

/**
 * The operations the control plane performs on the engine. Every mutating call either
 * succeeds completely or throws {@linkcode ControlError} having changed nothing. The control
 * server awaits whatever a method returns, so a wrapper may finish a change asynchronously
 * (the daemon installs the iptables diversion before the caller hears back).
 */
export interface ControlTarget {
  addService(key: ServiceKey, options: ServiceOptions): void;
  editService(key: ServiceKey, options: Partial<ServiceOptions>): void;
  deleteService(key: ServiceKey): void;
  addRealServer(key: ServiceKey, server: RealServerSpec): void;
  editRealServer(key: ServiceKey, server: Partial<RealServerSpec> & Endpoint): void;
  deleteRealServer(key: ServiceKey, server: Endpoint): void;
  addLocalAddress(key: ServiceKey, address: string): void;
  deleteLocalAddress(key: ServiceKey, address: string): void;
  /** Removes every service (`ipvsadm -C`). */
  clear(): void;
  /** Zeroes counters of one service or of all (`ipvsadm -Z`). */
  zeroStats(key?: ServiceKey): void;
  listServices(): ServiceView[];
  listConnections(): ConnectionView[];
  getTimeouts(): Timeouts;
  setTimeouts(timeouts: Partial<Timeouts>): void;
  diversion(): DiversionSpec;
}
