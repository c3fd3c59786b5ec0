/**
 * Where a packet worker gets its {@linkcode OffloadPort} to the kernel: the one place the
 * offload step (`offload_step.ts`) meets the ctnetlink module (`src/kernel/conntrack/`). It
 * turns the engine's requests into conntrack entries (DNAT to the real server, SNAT to the
 * local address and port unless NAT mode, the sequence delta as `CTA_SEQ_ADJ_ORIG`, the
 * handshake's window scales), reads this worker's destroy events and dumps by the mark bits
 * that name the worker, and deletes entries by their original tuple.
 *
 * @module
 */
import {
  Conntrack,
  type CtEntry,
  type CtEvents,
  type OffloadEntry as CtOffloadEntry,
  TCP_CONNTRACK_ESTABLISHED,
} from "../kernel/conntrack/mod.ts";
import { OFFLOAD_MARK_WORKER_MASK, offloadWorkerMark } from "../fullnat/offload.ts";
import { parseAddress } from "../vocab/address.ts";
import type {
  OffloadEndpoint,
  OffloadEntry,
  OffloadKey,
  OffloadOutcome,
  OffloadPort,
  OffloadRequest,
} from "./offload_port.ts";

/**
 * Opens worker `worker`'s port to the kernel's conntrack (its entries carry its mark bits):
 * the destroy events are subscribed to before any entry is made. Throws an Error saying what
 * failed (no CAP_NET_ADMIN, no ctnetlink).
 */
export function openKernelOffloadPort(worker: number): OffloadPort {
  return new KernelOffloadPort(worker);
}

/** The port over one request socket and one destroy-event socket. */
class KernelOffloadPort implements OffloadPort {
  readonly #ct: Conntrack;
  readonly #events: CtEvents;
  readonly #mark: number;

  constructor(worker: number) {
    this.#ct = new Conntrack();
    try {
      this.#events = this.#ct.events({ groups: ["destroy"] });
    } catch (err) {
      this.#ct.close();
      throw err;
    }
    this.#mark = offloadWorkerMark(worker);
  }

  offload(batch: readonly OffloadRequest[]): OffloadOutcome[] {
    return this.#ct.create(batch.map(conntrackEntry)).map((r) =>
      r.ok ? "ok" : r.reason === "exists" ? "clash" : r.reason === "table-full" ? "full" : "error"
    );
  }

  gone(): OffloadEntry[] {
    const out: OffloadEntry[] = [];
    for (const e of this.#events.read()) {
      if (e.type !== "destroy" || !this.#ours(e)) continue;
      const entry = offloadEntry(e);
      // The kernel leaves the timeout out of the destroy event of an entry with none left.
      if (e.tcpState === TCP_CONNTRACK_ESTABLISHED) {
        if ((e.timeout ?? 0) > 0) entry.liveDeleted = true;
        else entry.idleExpiry = true;
      }
      out.push(entry);
    }
    return out;
  }

  dump(): OffloadEntry[] {
    return this.#ct.dump(this.#mark, OFFLOAD_MARK_WORKER_MASK).filter((e) => this.#ours(e))
      .map(offloadEntry);
  }

  remove(key: OffloadKey): void {
    this.#ct.delete({
      protocol: key.proto,
      src: key.client.addr,
      dst: key.vip.addr,
      srcPort: key.client.port,
      dstPort: key.vip.port,
    });
  }

  close(): void {
    this.#events.close();
    this.#ct.close();
  }

  #ours(e: CtEntry): boolean {
    return ((e.mark & OFFLOAD_MARK_WORKER_MASK) >>> 0) === this.#mark;
  }
}

/** The conntrack entry that carries request `r`. */
export function conntrackEntry(r: OffloadRequest): CtOffloadEntry {
  // NAT mode: the local endpoint is the client's own, and there is nothing to SNAT.
  const nat = sameEndpoint(r.local, r.client);
  const delta = r.seqDeltaClientToRs >>> 0;
  return {
    orig: {
      protocol: r.proto,
      src: r.client.addr,
      dst: r.vip.addr,
      srcPort: r.client.port,
      dstPort: r.vip.port,
    },
    dnat: { address: r.rs.addr, port: r.rs.port },
    ...(!nat && { snat: { address: r.local.addr, port: r.local.port } }),
    ...(delta !== 0 && {
      seqAdjOrig: { correctionPos: r.clientIsnPos >>> 0, offsetBefore: delta, offsetAfter: delta },
    }),
    tcp: {
      wscaleOriginal: Math.max(r.wscaleClient, 0),
      wscaleReply: Math.max(r.wscaleRs, 0),
      // The kernel scales only when both sides offered it; unknown counts as not offered
      // (liberal window tracking accepts the segments either way).
      windowScale: r.wscaleClient >= 0 && r.wscaleRs >= 0,
    },
    timeout: r.timeoutSec,
    mark: r.mark,
  };
}

/** An entry read back (dump or event) as the offload step wants it. */
function offloadEntry(e: CtEntry): OffloadEntry {
  const o = e.countersOrig;
  const r = e.countersReply;
  return {
    key: {
      family: e.orig.src.includes(":") ? 6 : 4,
      proto: "tcp",
      client: endpoint(e.orig.src, e.orig.srcPort),
      vip: endpoint(e.orig.dst, e.orig.dstPort),
      mark: e.mark >>> 0,
    },
    counters: {
      inPackets: Number(o?.packets ?? 0n),
      inBytes: Number(o?.bytes ?? 0n),
      outPackets: Number(r?.packets ?? 0n),
      outBytes: Number(r?.bytes ?? 0n),
    },
  };
}

/** `text`:`port` as network-order bytes (the engine's form). */
function endpoint(text: string, port: number): OffloadEndpoint {
  const p = parseAddress(text);
  if (p === undefined) return { addr: new Uint8Array(0), port };
  const addr = new Uint8Array(p.family === 6 ? 16 : 4);
  const view = new DataView(addr.buffer);
  if (p.family === 6) p.v6.forEach((w, i) => view.setUint32(i * 4, w));
  else view.setUint32(0, p.v4);
  return { addr, port };
}

function sameEndpoint(a: OffloadEndpoint, b: OffloadEndpoint): boolean {
  return a.port === b.port && a.addr.length === b.addr.length &&
    a.addr.every((x, i) => x === b.addr[i]);
}
