/**
 * {@linkcode OwnerLog}: what each owner id a session stores stands for, kept beside the
 * sessions in memory that outlives the process (`src/runstate`). Sessions refer to their
 * service, real server and local address by registry id; a new process rebuilds the registry
 * from the stored configuration with ids of its own, so it reads here which service, server
 * and address an old id named, and maps the sessions onto its own objects
 * (`session_restore.ts`).
 *
 * The registry writes a record when it hands out an id, before any session can use it, so a
 * session never refers to an id without its record. Records are fixed-size slots indexed by
 * id; ids are reused lowest-first, so the slots needed never exceed the objects that exist at
 * once.
 *
 * @module
 */
import { protocolOfNumber } from "../vocab/mod.ts";
import type { LocalAddress, RealServer, Service } from "./service.ts";
import type { Protocol } from "./types.ts";

/** Bytes per record: flag, protocol, port, service id, address length, address text. */
const RECORD = 48;
const ADDRESS_MAX = RECORD - 9;
/** Records per kind: services, real servers, local addresses. */
export const OWNER_SLOTS = { service: 1 << 16, server: 1 << 18, local: 1 << 16 } as const;
type Kind = keyof typeof OWNER_SLOTS;

/** What an old service id stood for. */
export interface ServiceRecord {
  protocol: Protocol;
  address: string;
  port: number;
}
/** What an old real-server id stood for. */
export interface ServerRecord {
  service: number;
  address: string;
  port: number;
}
/** What an old local-address id stood for. */
export interface LocalRecord {
  service: number;
  address: string;
}

/** The records a previous process left, by old id. */
export interface OwnerSnapshot {
  services: Map<number, ServiceRecord>;
  servers: Map<number, ServerRecord>;
  locals: Map<number, LocalRecord>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Owner records over a byte region of {@linkcode OwnerLog.bytes} bytes. */
export class OwnerLog {
  /** Ids past the slots of their kind: sessions using them cannot be restored. */
  overflows = 0;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #base: Record<Kind, number>;

  constructor(bytes: Uint8Array) {
    if (bytes.byteLength < OwnerLog.bytes()) {
      throw new RangeError(`owner log needs ${OwnerLog.bytes()} bytes`);
    }
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#base = {
      service: 0,
      server: OWNER_SLOTS.service * RECORD,
      local: (OWNER_SLOTS.service + OWNER_SLOTS.server) * RECORD,
    };
  }

  /** Bytes the records take. */
  static bytes(): number {
    return (OWNER_SLOTS.service + OWNER_SLOTS.server + OWNER_SLOTS.local) * RECORD;
  }

  /** Records what service id `svc.id` is. */
  service(svc: Service): void {
    this.#write("service", svc.id, svc.proto, svc.key.port, -1, svc.key.address);
  }

  /** Records what real-server id `rs.id` is. */
  server(rs: RealServer): void {
    this.#write("server", rs.id, 0, rs.port, rs.service.id, rs.address);
  }

  /** Records what local-address id `la.id` is. */
  local(la: LocalAddress): void {
    this.#write("local", la.id, 0, 0, la.service.id, la.address);
  }

  /** Reads every record (before the new process writes its own over them). */
  snapshot(): OwnerSnapshot {
    const out: OwnerSnapshot = { services: new Map(), servers: new Map(), locals: new Map() };
    this.#each("service", (id, proto, port, _svc, address) => {
      const protocol = protocolOfNumber(proto);
      if (protocol !== undefined) out.services.set(id, { protocol, address, port });
    });
    this.#each("server", (id, _p, port, service, address) => {
      out.servers.set(id, { service, address, port });
    });
    this.#each("local", (id, _p, _port, service, address) => {
      out.locals.set(id, { service, address });
    });
    return out;
  }

  #write(kind: Kind, id: number, proto: number, port: number, svc: number, address: string) {
    if (id >= OWNER_SLOTS[kind]) {
      this.overflows++;
      return;
    }
    const at = this.#base[kind] + id * RECORD;
    const text = encoder.encode(address);
    if (text.length > ADDRESS_MAX) {
      throw new RangeError(`address too long for a record: ${address}`);
    }
    const v = this.#view;
    // The flag is cleared first and set last, so a record torn by a crash reads as absent.
    this.#bytes[at] = 0;
    this.#bytes[at + 1] = proto;
    v.setUint16(at + 2, port);
    v.setInt32(at + 4, svc);
    this.#bytes[at + 8] = text.length;
    this.#bytes.set(text, at + 9);
    this.#bytes[at] = 1;
  }

  #each(
    kind: Kind,
    f: (id: number, proto: number, port: number, svc: number, address: string) => void,
  ): void {
    const v = this.#view;
    for (let id = 0; id < OWNER_SLOTS[kind]; id++) {
      const at = this.#base[kind] + id * RECORD;
      if (this.#bytes[at] !== 1) continue;
      const len = Math.min(this.#bytes[at + 8], ADDRESS_MAX);
      const address = decoder.decode(this.#bytes.subarray(at + 9, at + 9 + len));
      f(id, this.#bytes[at + 1], v.getUint16(at + 2), v.getInt32(at + 4), address);
    }
  }
}
