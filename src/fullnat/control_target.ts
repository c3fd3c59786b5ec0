/**
 * The control plane's contract with the engine (seed 4.9): the operations, and the error a
 * refused one throws (its message is what ipvsadm would print).
 *
 * @module
 */
import type { DiversionSpec } from "./diversion_spec.ts";
import type { Endpoint, RealServerSpec, ServiceKey, ServiceOptions } from "./service_spec.ts";
import type { Timeouts } from "./timeouts.ts";
import type { Tunables } from "./tunables.ts";
import type { ConnectionView, ServiceView } from "./views.ts";

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
  /** The engine-wide switches IPVS keeps as sysctls (`expire_nodest_conn`, ...). */
  getTunables(): Tunables;
  /** Changes the switches given, leaving the others. */
  setTunables(tunables: Partial<Tunables>): void;
  diversion(): DiversionSpec;
}
