/**
 * Drives the engine's schedulers without packets' other bytes: a service on a fresh engine
 * (through its control, so every table is built as the daemon builds it), synthetic clients
 * from a seeded generator written as bare IP headers (the only bytes a scheduler reads), and
 * the server each client is scheduled to. Used by the scheduler tests and
 * bench/maglev_disruption.ts.
 *
 * @module
 */
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";
import { INET } from "../src/fullnat/family_ipv4.ts";
import { INET6 } from "../src/fullnat/family_ipv6.ts";
import type { AddressFamily } from "../src/fullnat/family.ts";
import { schedule } from "../src/fullnat/scheduler.ts";
import type { Service } from "../src/fullnat/service.ts";
import type { ServiceKey, ServiceOptions } from "../src/fullnat/types.ts";

/** A service on its own engine, and the control that made it. */
export interface SchedulerBed {
  ctl: EngineControl;
  key: ServiceKey;
  svc: Service;
  v6: boolean;
}

/** The address of real server `i` (0-based) of a bed. */
export function serverAddress(i: number, v6: boolean): string {
  return v6 ? `2001:db8:b::${(i + 1).toString(16)}` : `203.0.113.${i + 1}`;
}

/** A service with one real server per weight, at {@linkcode serverAddress}. */
export function schedulerBed(
  options: ServiceOptions,
  weights: readonly number[],
  v6 = false,
  vip = v6 ? "2001:db8:a::10" : "198.51.100.10",
): SchedulerBed {
  const ctl = new EngineControl(new Engine({ clock: () => 0, capacity: 1 }));
  const key = { protocol: "tcp" as const, address: vip, port: 80 };
  ctl.addService(key, options);
  weights.forEach((weight, i) =>
    ctl.addRealServer(key, { address: serverAddress(i, v6), port: 80, weight, method: "fullnat" })
  );
  return { ctl, key, svc: ctl.engine.registry.liveServices()[0], v6 };
}

/** A client: its address as an IP header's source (and a destination), and its port. */
export interface Client {
  header: Uint8Array;
  port: number;
}

/** A 32-bit generator (mulberry32): the same seed gives the same clients on every run. */
export function seeded(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A bare header from `src` (4 or 16 bytes) to `dst`. */
export function header(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const v6 = src.length === 16;
  const h = new Uint8Array(v6 ? 40 : 20);
  h[0] = v6 ? 0x60 : 0x45;
  h.set(src, v6 ? 8 : 12);
  h.set(dst, v6 ? 24 : 16);
  return h;
}

/** `n` distinct-looking random clients (IPv4, or IPv6 in 2001:db8::/32), random ports. */
export function randomClients(n: number, v6: boolean, seed = 1): Client[] {
  const next = seeded(seed);
  const dst = new Uint8Array(v6 ? 16 : 4);
  return Array.from({ length: n }, () => {
    const src = new Uint8Array(v6 ? 16 : 4);
    for (let i = 0; i < src.length; i += 4) {
      const w = next();
      src[i] = w >>> 24;
      src[i + 1] = w >>> 16;
      src[i + 2] = w >>> 8;
      src[i + 3] = w;
    }
    if (v6) src.set([0x20, 0x01, 0x0d, 0xb8]);
    return { header: header(src, dst), port: 1024 + next() % 64000 };
  });
}

/** The family of a bed's packets. */
export function familyOf(bed: SchedulerBed): AddressFamily {
  return bed.v6 ? INET6 : INET;
}

/** The address of the server `client` is scheduled to, or "none". */
export function scheduled(bed: SchedulerBed, client: Client): string {
  return schedule(bed.svc, familyOf(bed), client.header, 0, client.port)?.address ?? "none";
}

/** How many of `clients` each server address (or "none") gets. */
export function shares(bed: SchedulerBed, clients: readonly Client[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of clients) {
    const a = scheduled(bed, c);
    out.set(a, (out.get(a) ?? 0) + 1);
  }
  return out;
}

/** The share of clients whose server differs between two assignments. */
export function movedShare(before: readonly string[], after: readonly string[]): number {
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++;
  return moved / before.length;
}
