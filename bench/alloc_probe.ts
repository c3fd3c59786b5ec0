/**
 * Does the queue loop allocate per packet? Runs the batch processor (parse, handler, checksum
 * completion, verdict packing: all the per-packet work of the loop; what remains in
 * `NfQueue` is one `recvmmsg` and one `sendto` per batch) over a crafted receive ring of 64
 * packet messages, a million packets at a time, and reports heap bytes allocated per packet.
 *
 *   deno run -A bench/alloc_probe.ts [--packets N]
 *
 * It re-runs itself with a 64 MiB young generation (`--min/max-semi-space-size`) and collects
 * garbage before each phase (`--expose-gc`), so no collection happens inside a measured
 * phase and the growth of `heapUsed` over the phase is exactly what the phase allocated. Phases (each after a warm-up, so the JIT has
 * settled):
 *
 * - `queue+accept`: verdicts without payload;
 * - `queue+dnat`: a 1:1 address rewrite of both directions (tests/nfqueue/handlers.ts), half
 *   the packets flagged CSUMNOTREADY|GSO so their full checksum is completed (WASM SIMD);
 * - `queue+engine`: the FULLNAT engine on established TCP packets of one session, both
 *   directions, half flagged CSUMNOTREADY;
 * - `control`: a handler that keeps a 16-byte copy of each packet, to show the probe does
 *   see allocations.
 *
 * The child prints one JSON line per phase; the parent prints a table. Used by
 * tests/nfqueue/no_alloc_test.ts.
 *
 * @module
 */

import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";
import { Verdict } from "../src/fullnat/types.ts";
import { SimdChecksum } from "../src/fullnat/wire/checksum_simd.ts";
import { BatchProcessor, PROCESSOR_SCRATCH_BYTES } from "../src/nfqueue/batch_processor.ts";
import { NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO } from "../src/nfqueue/constants.ts";
import { newCounters } from "../src/nfqueue/counters.ts";
import type { PacketHandler } from "../src/nfqueue/handler.ts";
import { nlAlign } from "../src/nfqueue/netlink_parse.ts";
import { VerdictWriter } from "../src/nfqueue/verdict_writer.ts";
import { dnatHandler } from "../tests/nfqueue/handlers.ts";
import { be32, message, packetHdr } from "../tests/nfqueue/nl_builder.ts";
import { ipv4 } from "../tests/support/packet_builder.ts";

/** One phase's figures, as the child reports them. */
export interface PhaseResult {
  phase: string;
  packets: number;
  /** heapUsed growth over the phase, bytes. */
  heapGrowth: number;
  bytesPerPacket: number;
  nsPerPacket: number;
  rewritten: number;
  checksumsCompleted: number;
}

const SLOTS = 64;
const SLOT_SIZE = nlAlign(0xffff - 4 + 4096);
const PHASES = ["queue+accept", "queue+dnat", "queue+engine", "control"];
const SEMI_SPACE_MB = 64;

if (Deno.args[0] === "--child") {
  child(Number(Deno.args[1]), Deno.args.slice(2));
} else if (import.meta.main) {
  const i = Deno.args.indexOf("--packets");
  const packets = i >= 0 ? Number(Deno.args[i + 1]) : 1_000_000;
  const results = await runProbe(packets, PHASES);
  console.log(
    `heap allocation per packet, ${packets} packets per phase ` +
      `(young generation ${SEMI_SPACE_MB} MiB: no GC inside a phase)`,
  );
  console.log(
    `  ${"phase".padEnd(14)}${"heap growth".padStart(14)}${"B/packet".padStart(10)}` +
      `${"ns/packet".padStart(11)}${"completed sums".padStart(16)}`,
  );
  for (const r of results) {
    console.log(
      `  ${r.phase.padEnd(14)}${String(r.heapGrowth).padStart(14)}` +
        `${r.bytesPerPacket.toFixed(3).padStart(10)}${r.nsPerPacket.toFixed(0).padStart(11)}` +
        `${String(r.checksumsCompleted).padStart(16)}`,
    );
  }
}

/** Runs the probe in a child Deno with a large young generation; returns its phases. */
export async function runProbe(packets: number, phases: string[]): Promise<PhaseResult[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=--min-semi-space-size=${SEMI_SPACE_MB},--max-semi-space-size=${SEMI_SPACE_MB}` +
      ",--expose-gc",
      new URL(import.meta.url).pathname,
      "--child",
      String(packets),
      ...phases,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the allocation probe failed (exit ${out.code})`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
}

/** The established-session packets of the engine phase and the engine itself. */
function engineSetup(): { handler: PacketHandler; packets: Uint8Array[] } {
  const VIP = "198.51.100.10";
  const engine = new Engine({ clock: () => 0, capacity: 1 << 16 });
  const ctl = new EngineControl(engine);
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: "203.0.113.11", port: 80, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(key, "203.0.113.201");
  const client = { src: "198.51.100.2", dst: VIP };
  const syn = ipv4(client).tcp({ sport: 40000, dport: 80, flags: "S", seq: 1 }).mss(1460)
    .build();
  const b = new Uint8Array(4096);
  b.set(syn);
  engine.handle(b, 0, syn.length, b.length);
  const conn = ctl.listConnections()[0];
  const body = new Uint8Array(1400);
  const inPkt = ipv4(client).tcp({ sport: 40000, dport: 80, flags: "A", seq: 2, ack: 1 })
    .payload(body).build();
  const outPkt = ipv4({ src: conn.real.address, dst: conn.local.address })
    .tcp({ sport: 80, dport: conn.local.port, flags: "A", seq: 1, ack: 2 }).payload(body)
    .build();
  return { handler: engine, packets: [inPkt, outPkt] };
}

function dnatSetup(): { handler: PacketHandler; packets: Uint8Array[] } {
  const body = new Uint8Array(1400);
  const a = ipv4({ src: "10.201.1.2", dst: "10.201.2.99" }).tcp({ flags: "A" }).payload(body)
    .build();
  const b = ipv4({ src: "10.201.2.2", dst: "10.201.1.2" }).tcp({ flags: "A" }).payload(body)
    .build();
  return { handler: dnatHandler("10.201.2.99", "10.201.2.2"), packets: [a, b] };
}

// Copies land here so they stay reachable and the compiler cannot drop the allocation.
const kept: Uint8Array[] = new Array(SLOTS);

function controlSetup(): { handler: PacketHandler; packets: Uint8Array[] } {
  let n = 0;
  const handler = {
    outLength: 0,
    handle(buf: Uint8Array, off: number, len: number): Verdict {
      kept[n++ & (SLOTS - 1)] = buf.slice(off, off + 16);
      handler.outLength = len;
      return Verdict.Rewritten;
    },
  };
  return { handler, packets: dnatSetup().packets };
}

function child(packets: number, phases: string[]): void {
  for (const phase of phases) {
    const setup = phase === "queue+accept"
      ? { handler: { outLength: 0, handle: () => Verdict.Accept }, packets: dnatSetup().packets }
      : phase === "queue+dnat"
      ? dnatSetup()
      : phase === "queue+engine"
      ? engineSetup()
      : phase === "control"
      ? controlSetup()
      : undefined;
    if (setup === undefined) throw new Error(`unknown phase '${phase}'`);
    // The memory layout of NfQueue: ring, verdict buffer and scratch in the summer's memory.
    const summer = new SimdChecksum(SLOTS * SLOT_SIZE + (1 << 20) + PROCESSOR_SCRATCH_BYTES);
    const ring = summer.allocate(SLOTS * SLOT_SIZE);
    const view = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
    const writer = new VerdictWriter(0, 1 << 20, summer.allocate(1 << 20));
    const counters = newCounters();
    const proc = new BatchProcessor(writer, counters, () => writer.reset(), { summer });
    // Alternate directions; every other packet is a CSUMNOTREADY GSO one.
    const messages = Array.from({ length: SLOTS }, (_, i) =>
      message([
        [1, packetHdr(i + 1)],
        [14, be32(i % 2 === 0 ? NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO : 0)],
        [10, setup.packets[(i >> 1) % setup.packets.length]],
      ]));
    const batch = () => {
      writer.reset();
      for (let i = 0; i < SLOTS; i++) {
        const m = messages[i];
        const start = i * SLOT_SIZE;
        // The handler rewrote the packet in place last time: restore the original.
        ring.set(m, start);
        proc.datagram(ring, view, start, m.length, start + SLOT_SIZE, setup.handler);
      }
    };
    // The control phase allocates ~100 B per packet: keep it below the young generation.
    const wanted = phase === "control" ? Math.min(packets, 100_000) : packets;
    const batches = Math.ceil(wanted / SLOTS);
    for (let i = 0; i < Math.max(2000, batches / 4); i++) batch();
    // An empty young generation: the phase's own allocations cannot trigger a scavenge.
    (globalThis as { gc?: () => void }).gc?.();
    const before = Deno.memoryUsage().heapUsed;
    const rewrittenBefore = counters.rewritten;
    const completedBefore = counters.checksumsCompleted;
    const t0 = performance.now();
    for (let i = 0; i < batches; i++) batch();
    const ms = performance.now() - t0;
    const growth = Deno.memoryUsage().heapUsed - before;
    const n = batches * SLOTS;
    const result: PhaseResult = {
      phase,
      packets: n,
      heapGrowth: growth,
      bytesPerPacket: growth / n,
      nsPerPacket: (ms * 1e6) / n,
      rewritten: counters.rewritten - rewrittenBefore,
      checksumsCompleted: counters.checksumsCompleted - completedBefore,
    };
    console.log(JSON.stringify(result));
  }
}
