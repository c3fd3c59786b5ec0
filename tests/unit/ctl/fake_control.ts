/**
 * Test doubles for the control contract: {@linkcode RecordingControl}, an async
 * {@linkcode RemoteControl} that records every call and answers from canned data, and
 * {@linkcode MemoryTarget}, a small synchronous {@linkcode ControlTarget} that keeps services
 * in memory and refuses like the engine does (for socket round trips).
 *
 * @module
 */

import {
  type ConnectionView,
  ControlError,
  type ControlTarget,
  DEFAULT_TCP_TWEAKS,
  DEFAULT_TIMEOUTS,
  DEFAULT_TUNABLES,
  type DiversionSpec,
  type Endpoint,
  type RealServerSpec,
  type ServiceKey,
  type ServiceOptions,
  type ServiceView,
  type Timeouts,
  type Tunables,
} from "../../../src/fullnat/types.ts";
import type { ControlMethod, RemoteControl } from "../../../src/ctl/remote.ts";

/** One recorded call. */
export interface Call {
  method: ControlMethod;
  args: unknown[];
}

/** Records calls; lists return `services`, `connections`, `timeouts`; `failures` make calls throw. */
export class RecordingControl implements RemoteControl {
  calls: Call[] = [];
  services: ServiceView[] = [];
  connections: ConnectionView[] = [];
  timeouts: Timeouts = { ...DEFAULT_TIMEOUTS };
  tunables: Tunables = { ...DEFAULT_TUNABLES };
  failures = new Map<ControlMethod, Error>();

  #record(method: ControlMethod, args: unknown[]): Promise<void> {
    this.calls.push({ method, args });
    const failure = this.failures.get(method);
    return failure === undefined ? Promise.resolve() : Promise.reject(failure);
  }

  addService(key: ServiceKey, options: ServiceOptions) {
    return this.#record("addService", [key, options]);
  }
  editService(key: ServiceKey, options: Partial<ServiceOptions>) {
    return this.#record("editService", [key, options]);
  }
  deleteService(key: ServiceKey) {
    return this.#record("deleteService", [key]);
  }
  addRealServer(key: ServiceKey, server: RealServerSpec) {
    return this.#record("addRealServer", [key, server]);
  }
  editRealServer(key: ServiceKey, server: Partial<RealServerSpec> & Endpoint) {
    return this.#record("editRealServer", [key, server]);
  }
  deleteRealServer(key: ServiceKey, server: Endpoint) {
    return this.#record("deleteRealServer", [key, server]);
  }
  addLocalAddress(key: ServiceKey, address: string) {
    return this.#record("addLocalAddress", [key, address]);
  }
  deleteLocalAddress(key: ServiceKey, address: string) {
    return this.#record("deleteLocalAddress", [key, address]);
  }
  clear() {
    return this.#record("clear", []);
  }
  zeroStats(...args: [ServiceKey?]) {
    return this.#record("zeroStats", args);
  }
  async listServices() {
    await this.#record("listServices", []);
    return this.services;
  }
  async listConnections() {
    await this.#record("listConnections", []);
    return this.connections;
  }
  async getTimeouts() {
    await this.#record("getTimeouts", []);
    return this.timeouts;
  }
  setTimeouts(timeouts: Partial<Timeouts>) {
    return this.#record("setTimeouts", [timeouts]);
  }
  async getTunables() {
    await this.#record("getTunables", []);
    return this.tunables;
  }
  setTunables(tunables: Partial<Tunables>) {
    return this.#record("setTunables", [tunables]);
  }
  async diversion(): Promise<DiversionSpec> {
    await this.#record("diversion", []);
    return { services: [], localAddresses: [], natRealServers: [] };
  }
}

const ZERO_STATS = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
const sameKey = (a: ServiceKey, b: ServiceKey) =>
  a.protocol === b.protocol && a.address === b.address && a.port === b.port;

/** An in-memory engine stand-in: enough state to refuse duplicates and missing entries. */
export class MemoryTarget implements ControlTarget {
  services: ServiceView[] = [];
  timeouts: Timeouts = { ...DEFAULT_TIMEOUTS };
  tunables: Tunables = { ...DEFAULT_TUNABLES };
  /** Every argument list a mutating method received, to prove refused requests never arrive. */
  received: unknown[][] = [];

  #find(key: ServiceKey): ServiceView {
    const found = this.services.find((s) => sameKey(s, key));
    if (found === undefined) throw new ControlError("no-service", "No such service");
    return found;
  }

  addService(key: ServiceKey, options: ServiceOptions): void {
    this.received.push([key, options]);
    if (this.services.some((s) => sameKey(s, key))) {
      throw new ControlError("service-exists", "Service already exists");
    }
    const { sorryServer, ...rest } = options;
    this.services.push({
      ...key,
      ...rest,
      ...(sorryServer && {
        sorryServer: {
          ...sorryServer,
          active: false,
          currentWeight: 0,
          activeConns: 0,
          inactiveConns: 0,
          stats: { ...ZERO_STATS },
        },
      }),
      toa: options.toa ?? DEFAULT_TCP_TWEAKS.toa,
      stripTimestamps: options.stripTimestamps ?? DEFAULT_TCP_TWEAKS.stripTimestamps,
      clampMss: options.clampMss ?? DEFAULT_TCP_TWEAKS.clampMss,
      realServers: [],
      localAddresses: [],
      stats: { ...ZERO_STATS },
    });
  }
  editService(key: ServiceKey, options: Partial<ServiceOptions>): void {
    this.received.push([key, options]);
    Object.assign(this.#find(key), options);
  }
  deleteService(key: ServiceKey): void {
    this.received.push([key]);
    const s = this.#find(key);
    this.services = this.services.filter((x) => x !== s);
  }
  addRealServer(key: ServiceKey, server: RealServerSpec): void {
    this.received.push([key, server]);
    const s = this.#find(key);
    if (s.realServers.some((r) => r.address === server.address && r.port === server.port)) {
      throw new ControlError("dest-exists", "Destination already exists");
    }
    s.realServers.push({ ...server, activeConns: 0, inactiveConns: 0, stats: { ...ZERO_STATS } });
  }
  editRealServer(key: ServiceKey, server: Partial<RealServerSpec> & Endpoint): void {
    this.received.push([key, server]);
    const r = this.#find(key).realServers.find((x) =>
      x.address === server.address && x.port === server.port
    );
    if (r === undefined) throw new ControlError("no-dest", "No such destination");
    Object.assign(r, server);
  }
  deleteRealServer(key: ServiceKey, server: Endpoint): void {
    this.received.push([key, server]);
    const s = this.#find(key);
    const before = s.realServers.length;
    s.realServers = s.realServers.filter((x) =>
      !(x.address === server.address && x.port === server.port)
    );
    if (s.realServers.length === before) {
      throw new ControlError("no-dest", "No such destination");
    }
  }
  addLocalAddress(key: ServiceKey, address: string): void {
    this.received.push([key, address]);
    const s = this.#find(key);
    if (s.localAddresses.some((l) => l.address === address)) {
      throw new ControlError("laddr-exists", "Local address already exists");
    }
    s.localAddresses.push({ address, conns: 0, portConflicts: 0 });
  }
  deleteLocalAddress(key: ServiceKey, address: string): void {
    this.received.push([key, address]);
    const s = this.#find(key);
    if (!s.localAddresses.some((l) => l.address === address)) {
      throw new ControlError("no-laddr", "No such Local address");
    }
    s.localAddresses = s.localAddresses.filter((l) => l.address !== address);
  }
  clear(): void {
    this.received.push([]);
    this.services = [];
  }
  zeroStats(key?: ServiceKey): void {
    this.received.push(key === undefined ? [] : [key]);
    for (const s of key === undefined ? this.services : [this.#find(key)]) {
      s.stats = { ...ZERO_STATS };
    }
  }
  listServices(): ServiceView[] {
    return structuredClone(this.services);
  }
  listConnections(): ConnectionView[] {
    return [];
  }
  getTimeouts(): Timeouts {
    return { ...this.timeouts };
  }
  setTimeouts(timeouts: Partial<Timeouts>): void {
    this.received.push([timeouts]);
    Object.assign(this.timeouts, timeouts);
  }
  getTunables(): Tunables {
    return { ...this.tunables };
  }
  setTunables(tunables: Partial<Tunables>): void {
    this.received.push([tunables]);
    Object.assign(this.tunables, tunables);
  }
  diversion(): DiversionSpec {
    return {
      services: this.services.map(({ protocol, address, port }) => ({ protocol, address, port })),
      localAddresses: [],
      natRealServers: [],
    };
  }
}
