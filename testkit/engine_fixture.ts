/**
 * The engine's tests as data (Katran's `lib/testing/` shape): addresses of the test plan, an
 * engine with a hand-moved clock and a fixed ISN secret, fixture rows (input packet, verdict,
 * expected bytes, all built by the independent packet builder), and a runner that pushes rows
 * through the engine and compares verdicts and bytes. {@linkcode engineTest} gives each test
 * its own {@linkcode RowRun}, which has scapy (`oracle.ts`) re-check every packet the engine
 * wrote, in one batch at the end of that test, so any test runs alone under `--filter`.
 * The rows of each design section live in `engine_rows/`; `bench/engine_rows_bench.ts`
 * replays them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ipv4, ipv6, type PacketBuilder } from "./packet_builder.ts";
import { decode, type Decoded } from "./oracle.ts";
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine, type EngineOptions } from "../src/fullnat/engine.ts";
import { secureIsnV4, secureIsnV6 } from "../src/fullnat/isn.ts";
import { Verdict } from "../src/nfqueue/handler.ts";
import type { Scenario } from "./engine_rows/scenario.ts";
import { parseIpv4 } from "../src/wire/ipv4.ts";
import { parseIpv6 } from "../src/wire/ipv6.ts";

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

/** The IPv6 plan: a client, a VIP, a local address, a real server and a router before it. */
export const C6 = "2001:db8:a::2";
export const VIP6 = "2001:db8:a::10";
export const LIP6 = "2001:db8:b::201";
export const RS6 = "2001:db8:b::11";
export const ROUTER6 = "2001:db8:b::99";

/** One packet through the engine: what goes in, the verdict and the bytes expected out. */
export interface Row {
  what: string;
  /**
   * What happens on the fixture before the packet: the clock moves, a control operation,
   * `expire()`. Part of the scenario, so the benchmark replays it too (outside its timing).
   */
  before?: (fx: Fixture) => void;
  input: PacketBuilder;
  /** Only this many of the input's bytes reach the engine (a truncated or empty packet). */
  truncate?: number;
  /** The queue's `NFQA_SKB_*` bits handed to `handle()` (2: a GSO super-packet). */
  skbInfo?: number;
  verdict: Verdict;
  /** The mark expected in a Marked verdict (DR). */
  mark?: number;
  /** Expected bytes out, for Rewritten rows (omitted: only the checksums are re-checked). */
  output?: PacketBuilder;
}

/** Where every {@linkcode Clock} starts, in milliseconds. */
export const CLOCK_START = 1_000_000;

/** A clock the test moves by hand. */
export class Clock {
  ms = CLOCK_START;
  readonly fn = () => this.ms;
}

/** A fixed ISN secret, so tests can compute the ISN the engine will choose. */
export const SECRET = Uint32Array.of(0x01234567, 0x89abcdef);

/** An engine with its hand-moved clock and its control interface, as {@linkcode setup} makes it. */
export interface Fixture {
  clock: Clock;
  engine: Engine;
  ctl: EngineControl;
}

/** A fresh engine on the test plan: fixed ISN secret, 64 sessions, local ports 5000-5010. */
export function setup(opts: Partial<EngineOptions> = {}): Fixture {
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

/** Bytes the runner leaves after a packet for the engine to grow it into. */
export const HEADROOM = 128;

/** The bytes of `row`'s input that reach the engine. */
export function rowBytes(row: Row): Uint8Array {
  const pkt = row.input.build();
  return row.truncate === undefined ? pkt : pkt.slice(0, row.truncate);
}

/**
 * Runs rows in order through one fixture's engine (each row's `before` first), comparing
 * verdicts and bytes; every packet the engine wrote goes to `written` (when given) for the
 * oracle.
 */
export function runRows(fx: Fixture, rows: readonly Row[], written?: Uint8Array[]): void {
  const engine = fx.engine;
  for (const row of rows) {
    row.before?.(fx);
    const pkt = rowBytes(row);
    // Place the packet at an offset inside a larger buffer, as the queue loop does.
    const buf = new Uint8Array(pkt.length + 64 + HEADROOM).fill(0xee);
    buf.set(pkt, 32);
    const v = engine.handle(buf, 32, pkt.length, pkt.length + HEADROOM, row.skbInfo);
    assert.equal(v, row.verdict, `${row.what}: verdict`);
    if (v === Verdict.Rewritten) {
      const got = buf.slice(32, 32 + engine.outLength);
      // Rows that only set the scene leave the bytes to scapy's checksum re-check.
      if (row.output) assert.deepEqual(hex(got), hex(row.output.build()), `${row.what}: bytes`);
      written?.push(got);
    } else {
      if (v === Verdict.Marked && row.mark !== undefined) {
        assert.equal(engine.outMark, row.mark, `${row.what}: mark`);
      }
      assert.deepEqual(hex(buf.slice(32, 32 + pkt.length)), hex(pkt), `${row.what}: untouched`);
    }
  }
}

/**
 * One test's rows: runs them through engines like {@linkcode runRows} and keeps every packet
 * the engine wrote (and any it emitted, passed to {@linkcode RowRun.keep}) for one scapy
 * batch at the end.
 */
export class RowRun {
  /** Packets written by the engine in this test, in order. */
  readonly written: Uint8Array[] = [];

  /** Runs `rows` through `fx`'s engine, comparing verdicts and bytes. */
  rows(fx: Fixture, rows: readonly Row[]): void {
    runRows(fx, rows, this.written);
  }

  /**
   * Sets up `sc`'s engine (with `extra` options, such as an `emit` sink to look at) and runs
   * all its rows; returns the fixture for further checks.
   */
  scenario(sc: Scenario, extra: Partial<EngineOptions> = {}): Fixture {
    const fx = setup({ ...sc.options, ...extra });
    sc.configure(fx.ctl);
    this.rows(fx, sc.rows(fx.clock.ms));
    return fx;
  }

  /** Adds packets the engine emitted on its own (resets on expiry) to the oracle's batch. */
  keep(...packets: Uint8Array[]): void {
    this.written.push(...packets);
  }

  /**
   * scapy's verdict on every packet kept: IPv4 header checksums right, every TCP, UDP and
   * ICMP checksum right (pseudo-headers included), an IPv6 packet read as IPv6, and an ICMP
   * error quoting a datagram scapy decodes.
   */
  async check(): Promise<void> {
    const decoded = await decode(this.written);
    assert.equal(decoded.length, this.written.length, "oracle answered every packet");
    decoded.forEach((d, i) => checkDecoded(this.written[i], d, i));
  }
}

/** The oracle's judgment of one packet the engine wrote; see {@linkcode RowRun.check}. */
function checkDecoded(p: Uint8Array, d: Decoded, i: number): void {
  const what = `packet ${i}: ${d.summary ?? JSON.stringify(d).slice(0, 200)}`;
  const v6 = p[0] >>> 4 === 6;
  if (v6) assert.equal(d.ip?.version, 6, what);
  else assert.equal(d.ipChecksumOk, true, what);
  assert.equal(d.l4ChecksumOk, true, what);
  const icmpError = v6
    ? p[6] === 58 && p[40] < 128
    : p[9] === 1 && p[(p[0] & 15) * 4] !== 8 && p[(p[0] & 15) * 4] !== 0;
  if (icmpError) assert.ok(d.icmp?.embedded?.ip, `${what} quotes a datagram`);
}

/**
 * `Deno.test` for engine rows: `fn` gets this test's {@linkcode RowRun}; after it returns,
 * scapy checks every packet the run kept.
 */
export function engineTest(name: string, fn: (run: RowRun) => void | Promise<void>): void {
  Deno.test(name, async () => {
    const run = new RowRun();
    await fn(run);
    await run.check();
  });
}

/** Bytes as spaced hex, for readable byte-by-byte assertion diffs. */
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

/** {@linkcode tcp} over IPv6, hop limit 61. */
export const tcp6 = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: string,
  seq: number,
  ack = 0,
) => ipv6({ src, dst, hopLimit: 61 }).tcp({ sport, dport, flags, seq, ack, window: 29200 });

/** {@linkcode fullnatService} over IPv6: `VIP6`:`port` to `RS6`:8080 from `LIP6`. */
export function service6(ctl: EngineControl, protocol: "tcp" | "udp" = "tcp", port = 80) {
  const key = { protocol, address: VIP6, port };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS6, port: RS_PORT, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(key, LIP6);
  return key;
}

/** The engine's ISN for the first connection of {@linkcode service6} at clock `ms`. */
export function isn6(ms: number, lport = 5000): number {
  const w = new Uint32Array(8);
  w.set(parseIpv6(LIP6)!, 0);
  w.set(parseIpv6(RS6)!, 4);
  return secureIsnV6(SECRET, w, 0, lport, 4, RS_PORT, ms);
}

/** The engine's ISN for the first connection of {@linkcode fullnatService} at clock `ms`. */
export function firstIsn(ms: number, lport = 5000): number {
  return secureIsnV4(SECRET, parseIpv4(LIP)!, lport, parseIpv4(RS)!, 8080, ms);
}
