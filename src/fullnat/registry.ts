/**
 * The engine's configuration state: services, real servers and local addresses, each with a
 * numeric id that sessions store. Objects removed from configuration stay registered while
 * sessions still use them, and are released when the last of those sessions ends.
 *
 * @module
 */
import { protocolNumber } from "../vocab/mod.ts";
import type { OwnerLog } from "./owner_log.ts";
import { rebuildSchedule } from "./scheduler_hashed.ts";
import { LocalAddress, RealServer, Service } from "./service.ts";
import { clearOverload } from "./thresholds.ts";
import {
  DEFAULT_TIMEOUTS,
  type DiversionSpec,
  type Protocol,
  type ServiceKey,
  type Timeouts,
} from "./types.ts";

/** Protocol name to IP protocol number (the vocabulary's table). */
export function protoNumber(p: Protocol): number {
  return protocolNumber(p);
}

/** A small Smi-ranged hash of a service tuple, so Map lookups on the hot path never allocate. */
function serviceHash(proto: number, vaddr: number, vport: number): number {
  return (Math.imul(vaddr ^ (vport << 8) ^ proto, 0x9e3779b1) >>> 2) & 0x3fffffff;
}

/** {@linkcode serviceHash} for an IPv6 virtual address `w[o, o+4)`. */
function serviceHash6(proto: number, w: Uint32Array, o: number, vport: number): number {
  const x = w[o] ^ Math.imul(w[o + 1], 0x85ebca77) ^ Math.imul(w[o + 2], 0xc2b2ae3d) ^
    Math.imul(w[o + 3], 0x27d4eb2f);
  return serviceHash(proto | 0x80, x, vport);
}

/** Holds every configured object and finds services by tuple. */
export class Registry {
  readonly services: (Service | undefined)[] = [];
  readonly servers: (RealServer | undefined)[] = [];
  readonly locals: (LocalAddress | undefined)[] = [];
  #byTuple = new Map<number, Service[]>();
  /** Virtual addresses of live services, with how many services use each. */
  #vips = new Map<number, number>();
  #byTuple6 = new Map<number, Service[]>();
  /** Live IPv6 services, for the (rare) question whether an address is an IPv6 VIP. */
  #services6: Service[] = [];
  /**
   * Set when a retired object is released because its last session ended: what must be
   * diverted shrank without a control call (control calls announce their own changes). The
   * daemon's worker reads and clears it after each expiry scan.
   */
  diversionDirty = false;
  /**
   * Set when a persistence template was made, renewed, moved or forgotten: the daemon's worker
   * writes the templates for the next process when it finds this set, and clears it.
   */
  templatesChanged = false;
  /**
   * Where each id handed out is recorded, when sessions live in memory that outlives the
   * process (`owner_log.ts`).
   */
  owners: OwnerLog | undefined;
  /** The engine's timeouts, which every service starts from (the engine keeps this current). */
  timeouts: Timeouts = DEFAULT_TIMEOUTS;

  /** The live service for a packet's protocol, destination address and port. */
  find(proto: number, vaddr: number, vport: number): Service | undefined {
    const list = this.#byTuple.get(serviceHash(proto, vaddr, vport));
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if ((s.vaddr | 0) === (vaddr | 0) && s.key.port === vport && s.proto === proto) return s;
    }
    return undefined;
  }

  /** Live services in creation order. */
  liveServices(): Service[] {
    return this.services.filter((s): s is Service => s !== undefined && !s.removed);
  }

  addService(
    key: ServiceKey,
    vaddr: number,
    scheduler: Service["scheduler"],
    persistence: number,
    vaddr6?: Uint32Array,
  ): Service {
    const proto = protoNumber(key.protocol);
    const svc = new Service(
      freeSlot(this.services),
      { ...key },
      proto,
      vaddr,
      scheduler,
      persistence,
    );
    this.services[svc.id] = svc;
    svc.applyTimeouts(this.timeouts);
    this.owners?.service(svc);
    if (vaddr6) {
      svc.vaddr6 = vaddr6;
      svc.setPersistenceMask(128);
      const h6 = serviceHash6(proto, vaddr6, 0, key.port);
      const list6 = this.#byTuple6.get(h6);
      if (list6) list6.push(svc);
      else this.#byTuple6.set(h6, [svc]);
      this.#services6.push(svc);
      return svc;
    }
    const h = serviceHash(proto, vaddr, key.port);
    const list = this.#byTuple.get(h);
    if (list) list.push(svc);
    else this.#byTuple.set(h, [svc]);
    this.#vips.set(vaddr, (this.#vips.get(vaddr) ?? 0) + 1);
    return svc;
  }

  /** The live IPv6 service for a protocol, virtual address `w[o, o+4)` and port. */
  find6(proto: number, w: Uint32Array, o: number, vport: number): Service | undefined {
    const list = this.#byTuple6.get(serviceHash6(proto, w, o, vport));
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      const v = s.vaddr6!;
      if (
        s.proto === proto && s.key.port === vport && v[0] === w[o] && v[1] === w[o + 1] &&
        v[2] === w[o + 2] && v[3] === w[o + 3]
      ) return s;
    }
    return undefined;
  }

  /** True when `w[o, o+4)` is the virtual address of a live IPv6 service. */
  isVip6(w: Uint32Array, o: number): boolean {
    const list = this.#services6;
    for (let i = 0; i < list.length; i++) {
      const v = list[i].vaddr6!;
      if (v[0] === w[o] && v[1] === w[o + 1] && v[2] === w[o + 2] && v[3] === w[o + 3]) {
        return true;
      }
    }
    return false;
  }

  /** True when `addr` is the virtual address of a live service (any protocol or port). */
  isVip(addr: number): boolean {
    return this.#vips.has(addr);
  }

  /**
   * Unindexes a service so it takes no new connections. Like a deleted real server or local
   * address (and like IPVS), it lives on for its established sessions, which keep being
   * forwarded and diverted, and is released when the last of them ends.
   */
  removeService(svc: Service): void {
    svc.removed = true;
    if (svc.vaddr6) {
      const h6 = serviceHash6(svc.proto, svc.vaddr6, 0, svc.key.port);
      const rest6 = (this.#byTuple6.get(h6) ?? []).filter((s) => s !== svc);
      if (rest6.length) this.#byTuple6.set(h6, rest6);
      else this.#byTuple6.delete(h6);
      this.#services6 = this.#services6.filter((s) => s !== svc);
      this.#retireAll(svc);
      return;
    }
    const h = serviceHash(svc.proto, svc.vaddr, svc.key.port);
    const list = this.#byTuple.get(h);
    if (list) {
      const rest = list.filter((s) => s !== svc);
      if (rest.length) this.#byTuple.set(h, rest);
      else this.#byTuple.delete(h);
    }
    const users = (this.#vips.get(svc.vaddr) ?? 1) - 1;
    if (users > 0) this.#vips.set(svc.vaddr, users);
    else this.#vips.delete(svc.vaddr);
    this.#retireAll(svc);
  }

  #retireAll(svc: Service): void {
    if (svc.templates.size > 0) {
      svc.templates.clear();
      this.templatesChanged = true;
    }
    for (const rs of [...svc.servers]) this.retireServer(rs);
    for (const la of [...svc.localAddresses]) this.retireLocal(la);
    if (svc.sessions === 0) this.services[svc.id] = undefined;
  }

  addServer(
    svc: Service,
    addr: number,
    address: string,
    port: number,
    weight: number,
    method: RealServer["method"],
    addr6?: Uint32Array,
  ): RealServer {
    const rs = new RealServer(freeSlot(this.servers), svc, addr, address, port, weight, method);
    rs.addr6 = addr6;
    this.servers[rs.id] = rs;
    this.owners?.server(rs);
    svc.servers.push(rs);
    rebuildSchedule(svc);
    return rs;
  }

  /** Marks a server removed; it is released now if idle, else when its last session ends. */
  retireServer(rs: RealServer): void {
    rs.removed = true;
    clearOverload(rs);
    const i = rs.service.servers.indexOf(rs);
    if (i >= 0) rs.service.servers.splice(i, 1);
    rs.service.schedIndex = -1;
    rebuildSchedule(rs.service);
    if (rs.sessions === 0) this.servers[rs.id] = undefined;
  }

  addLocal(
    svc: Service,
    addr: number,
    address: string,
    portLow: number,
    portHigh: number,
    addr6?: Uint32Array,
  ): LocalAddress {
    const la = new LocalAddress(freeSlot(this.locals), svc, addr, address, portLow, portHigh);
    la.addr6 = addr6;
    this.locals[la.id] = la;
    this.owners?.local(la);
    svc.localAddresses.push(la);
    return la;
  }

  /** Marks a local address removed; released now if idle, else when its last session ends. */
  retireLocal(la: LocalAddress): void {
    la.removed = true;
    const i = la.service.localAddresses.indexOf(la);
    if (i >= 0) la.service.localAddresses.splice(i, 1);
    if (la.conns === 0) this.locals[la.id] = undefined;
  }

  /** Called when a session using these objects ends. */
  releaseSession(
    rs: RealServer | undefined,
    la: LocalAddress | undefined,
    svc?: Service,
  ): void {
    if (svc && svc.removed && svc.sessions === 0 && this.services[svc.id] === svc) {
      this.services[svc.id] = undefined;
      this.diversionDirty = true;
    }
    if (rs && rs.removed && rs.sessions === 0 && this.servers[rs.id] === rs) {
      this.servers[rs.id] = undefined;
      this.diversionDirty = true;
    }
    if (la && la.removed && la.conns === 0 && this.locals[la.id] === la) {
      this.locals[la.id] = undefined;
      this.diversionDirty = true;
    }
  }

  /** What must be diverted into the queue: configured objects and those still in use. */
  diversion(): DiversionSpec {
    // Deleted services stay diverted while their sessions last.
    const services = this.services.filter((s): s is Service => s !== undefined)
      .map((s) => ({ ...s.key }));
    const locals = new Set<string>();
    for (const la of this.locals) if (la) locals.add(la.address);
    const nat = new Map<string, { protocol: Protocol; address: string; port: number }>();
    const dr = new Map<string, { address: string; mark: number }>();
    for (const rs of this.servers) {
      if (rs && rs.method === "dr") dr.set(rs.address, { address: rs.address, mark: rs.mark });
      if (rs && rs.method === "nat") {
        const protocol = rs.service.key.protocol;
        nat.set(`${protocol} ${rs.address} ${rs.port}`, {
          protocol,
          address: rs.address,
          port: rs.port,
        });
      }
    }
    const spec: DiversionSpec = {
      services,
      localAddresses: [...locals],
      natRealServers: [...nat.values()],
    };
    if (dr.size > 0) spec.drRealServers = [...dr.values()];
    return spec;
  }
}

/** The lowest free index of a registry array, so ids stay small and are reused. */
function freeSlot<T>(list: (T | undefined)[]): number {
  const i = list.indexOf(undefined);
  return i >= 0 ? i : list.length;
}
