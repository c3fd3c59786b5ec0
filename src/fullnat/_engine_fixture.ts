/**
 * Shared scaffolding of the engine's fixture tests: addresses of the test plan, an engine with
 * a hand-moved clock and a fixed ISN secret, and a runner that pushes rows through the engine
 * and compares verdicts and bytes. Every rewritten packet is kept for the scapy re-check.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ipv4, type PacketBuilder } from "../../testkit/packet_builder.ts";
import { EngineControl } from "./control.ts";
import { Engine, type EngineOptions } from "./engine.ts";
import { secureIsnV4 } from "./isn.ts";
import { Verdict } from "../nfqueue/handler.ts";
import { parseIpv4 } from "../wire/ipv4.ts";

export const C = "198.51.100.2";
export const VIP = "198.51.100.10";
export const LIP = "203.0.113.201";
export const LIP2 = "203.0.113.202";
/** Four local addresses, as the benchmarks' balancer has them. */
export const LIPS = [LIP, LIP2, "203.0.113.203", "203.0.113.204"];
export const RS = "203.0.113.11";
export const RS2 = "203.0.113.12";
/** The port {@linkcode fullnatService} gives its real servers. */
export const RS_PORT = 8080;

export interface Row {
  what: string;
  input: PacketBuilder;
  verdict: Verdict;
  /** Expected bytes out, for Rewritten rows (omitted: only the checksums are re-checked). */
  output?: PacketBuilder;
}

/** A clock the test moves by hand. */
export class Clock {
  ms = 1_000_000;
  readonly fn = () => this.ms;
}

/** A fixed ISN secret, so tests can compute the ISN the engine will choose. */
export const SECRET = Uint32Array.of(0x01234567, 0x89abcdef);

export function setup(opts: Partial<EngineOptions> = {}) {
  const clock = new Clock();
  const engine = new Engine({
    clock: clock.fn,
    isnSecret: SECRET,
    capacity: 64,
    localPortRange: [5000, 5010],
    ...opts,
  });
  const ctl = new EngineControl(engine);
  return { clock, engine, ctl };
}

export function fullnatService(ctl: EngineControl, servers = [RS], lips = [LIP]) {
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  for (const rs of servers) {
    ctl.addRealServer(key, { address: rs, port: RS_PORT, weight: 1, method: "fullnat" });
  }
  for (const l of lips) ctl.addLocalAddress(key, l);
  return key;
}

export const HEADROOM = 128;
export const outputs: Uint8Array[] = [];

/** Runs rows in order through one engine, comparing verdicts and bytes. */
export function runRows(engine: Engine, rows: Row[]): void {
  for (const row of rows) {
    const pkt = row.input.build();
    // Place the packet at an offset inside a larger buffer, as the queue loop does.
    const buf = new Uint8Array(pkt.length + 64 + HEADROOM).fill(0xee);
    buf.set(pkt, 32);
    const v = engine.handle(buf, 32, pkt.length, pkt.length + HEADROOM);
    assert.equal(v, row.verdict, `${row.what}: verdict`);
    if (v === Verdict.Rewritten) {
      const got = buf.slice(32, 32 + engine.outLength);
      // Rows that only set the scene leave the bytes to scapy's checksum re-check.
      if (row.output) assert.deepEqual(hex(got), hex(row.output.build()), `${row.what}: bytes`);
      outputs.push(got);
    } else {
      assert.deepEqual(hex(buf.slice(32, 32 + pkt.length)), hex(pkt), `${row.what}: untouched`);
    }
  }
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

export const tcp = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: string,
  seq: number,
  ack = 0,
) =>
  ipv4({ src, dst, ttl: 61, id: 0x1234, df: true }).tcp({
    sport,
    dport,
    flags,
    seq,
    ack,
    window: 29200,
  });

/** The engine's ISN for the first connection of {@linkcode fullnatService} at clock `ms`. */
export function firstIsn(ms: number, lport = 5000): number {
  return secureIsnV4(SECRET, parseIpv4(LIP)!, lport, parseIpv4(RS)!, 8080, ms);
}
