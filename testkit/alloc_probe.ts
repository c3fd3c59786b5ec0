/**
 * Does the queue loop allocate per packet? Runs the batch processor (parse, handler, checksum
 * completion, verdict packing: all the per-packet work of the loop; what remains in
 * `NfQueue` is one `recvmmsg` and one `sendto` per batch) over a crafted receive ring of 64
 * packet messages, a million packets at a time, and reports heap bytes allocated per packet.
 *
 *   deno run -A testkit/alloc_probe.ts [--packets N]
 *
 * It re-runs itself with a 64 MiB young generation (`--min/max-semi-space-size`) and collects
 * garbage before each phase (`--expose-gc`), so no collection happens inside a measured
 * phase and the growth of `heapUsed` over the phase is exactly what the phase allocated. Phases (each after a warm-up, so the JIT has
 * settled):
 *
 * - `queue+accept`: verdicts without payload;
 * - `queue+dnat`: a 1:1 address rewrite of both directions (testkit/handlers.ts), half
 *   the packets flagged CSUMNOTREADY|GSO so their full checksum is completed (WASM SIMD);
 * - `queue+engine`: the FULLNAT engine on established TCP packets of one session, both
 *   directions, half flagged CSUMNOTREADY;
 * - `control`: a handler that keeps a 16-byte copy of each packet, to show the probe does
 *   see allocations;
 * - `engine`, `engine6`: `Engine.handle()` called directly on established TCP packets of one
 *   session, client->server and server->client alternately (IPv4, IPv6);
 * - `engine+guard`, `engine6+guard`: the handshakes of `engine+handshake` to a service with
 *   allow and deny lists and per-source limits (never reached), so every SYN is checked by all;
 * - `engine+handshake`, `engine6+handshake`: a client SYN from a fresh port (new session,
 *   TOA, timestamp strip, ISN), the real server's SYN-ACK (MSS clamp) and the client's ACK
 *   (TOA again); the session is removed after the ACK, so the table stays small.
 * - `engine+sched`, `engine6+sched`: the same handshakes, each to the next of five services
 *   scheduled by lc, wlc, sh (sh-fallback,sh-port), dh and mh (mh-fallback,mh-port), over
 *   servers one of which has weight 0 (so the fallbacks walk), the SYN-ACK coming from the
 *   server the SYN was scheduled to.
 * - `engine+persist`, `engine6+persist`: handshakes from 256 client addresses to two
 *   persistent services in turn: one whose templates live an hour (each new connection finds
 *   and renews its client's), one whose templates live a second under a clock that runs ten
 *   thousand times fast (each new connection finds its template expired, removes it and
 *   makes a new one), with a `-M` granularity (two clients per template).
 * - `engine+synproxy`, `engine6+synproxy`: SYN proxy handshakes (`syn_proxy.ts`): a client SYN
 *   answered with a cookie SYN-ACK, the client's ACK with that cookie (a session, the ACK held,
 *   the SYN to the server), the server's SYN-ACK (the held ACK replayed through the engine to
 *   a sink that keeps nothing); the session is then removed.
 *
 * The engine phases use what makes values box in V8: IPv4 addresses from 128.0.0.0 up,
 * sequence numbers and a sequence delta of 2^31 or more, and the daemon's clock
 * (`performance.now()`, fractional milliseconds).
 *
 * The child prints one JSON line per phase; the parent prints a table. Used by
 * tests/unit/nfqueue/no_alloc_test.ts.
 *
 * @module
 */

import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";
import { Verdict } from "../src/nfqueue/handler.ts";
import { SimdChecksum } from "../src/wire/checksum_simd.ts";
import { BatchProcessor, PROCESSOR_SCRATCH_BYTES } from "../src/nfqueue/batch_processor.ts";
import { NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO } from "../src/nfqueue/constants.ts";
import { newCounters } from "../src/nfqueue/counters.ts";
import type { PacketHandler } from "../src/nfqueue/handler.ts";
import { nlAlign } from "../src/nfqueue/netlink_parse.ts";
import { VerdictWriter } from "../src/nfqueue/verdict_writer.ts";
import { dnatHandler } from "./handlers.ts";
import { be32, message, packetHdr } from "./nl_builder.ts";
import { ipv4, ipv6 } from "./packet_builder.ts";

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
const PHASES = [
  "queue+accept",
  "queue+dnat",
  "queue+engine",
  "control",
  "engine",
  "engine+handshake",
  "engine6",
  "engine6+handshake",
  "engine+sched",
  "engine6+sched",
  "engine+persist",
  "engine6+persist",
  "engine+guard",
  "engine6+guard",
  "engine+synproxy",
  "engine6+synproxy",
  "engine+tunnel",
  "engine6+tunnel",
];
/**
 * Phases that call the engine directly, without the batch processor; TUNNEL's run in a child
 * of their own ({@linkcode TUNNEL_PHASES}).
 */
export const ENGINE_PHASES = PHASES.filter((p) => p.startsWith("engine") && !p.endsWith("+tunnel"));
/**
 * TUNNEL's phases. In a child that ran FULLNAT phases first, the per-packet code sees two
 * modes and V8 stops inlining the clock read into the TCP handler: the fractional clock
 * reading is then boxed, 16 B per TCP packet. NAT beside FULLNAT does the same (measured:
 * 21 B/packet either way); the daemon's clock (`BatchClock`) is not the probe's
 * `performance.now()`, but the cure, a clock read that never crosses a call, is the engine's.
 */
export const TUNNEL_PHASES = PHASES.filter((p) => p.endsWith("+tunnel"));
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
    `  ${"phase".padEnd(18)}${"heap growth".padStart(14)}${"B/packet".padStart(10)}` +
      `${"ns/packet".padStart(11)}${"completed sums".padStart(16)}`,
  );
  for (const r of results) {
    console.log(
      `  ${r.phase.padEnd(18)}${String(r.heapGrowth).padStart(14)}` +
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
      // Optimizing compilation on the main thread, within the warm-up: on a busy machine a
      // background job could land inside a phase, which would then partly run in a tier that
      // inlines less and boxes what crosses its calls.
      ",--expose-gc,--no-concurrent-recompilation,--no-concurrent-osr",
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

/** The work of an engine-only phase: each step handles `packetsPerStep` packets. */
interface EngineWork {
  step: () => void;
  packetsPerStep: number;
  /** Packets the engine has forwarded so far. */
  forwarded: () => number;
}

/**
 * An engine with one FULLNAT service and one established session, as the daemon runs it, and
 * the work of engine-only `phase` over it.
 */
function engineWork(phase: string): EngineWork {
  const v6 = phase.startsWith("engine6");
  if (phase.endsWith("+tunnel")) return tunnelWork(v6);
  const ip = v6 ? ipv6 : ipv4;
  const VIP = v6 ? "2001:db8::10" : "198.51.100.10";
  const LIP = v6 ? "2001:db8:1::201" : "203.0.113.201";
  const RS = v6 ? "2001:db8:1::11" : "203.0.113.11";
  const CLIENT = v6 ? "2001:db8:2::2" : "198.51.100.2";
  // The persistence phase's clock runs fast, so short templates expire between visits.
  const pace = phase.endsWith("+persist") ? 10_000 : 1;
  const engine = new Engine({
    clock: () => performance.now() * pace,
    capacity: 1 << 16,
    // The SYN proxy's replays go out through the sink; this one keeps nothing.
    ...(phase.endsWith("+synproxy") && { emit: () => {} }),
  });
  const ctl = new EngineControl(engine);
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(key, LIP);
  const buf = new Uint8Array(4096);
  const run = (p: Uint8Array): Verdict => {
    buf.set(p);
    return engine.handle(buf, 0, p.length, buf.length);
  };
  const t = engine.table;
  const CSEQ = 0xf0000000;
  const RSEQ = 0xe0000000;
  // A session whose sequence delta (random: the ISN is keyed and clocked) is 2^31 or more.
  let cport = 40000;
  let id = -1;
  for (; cport < 40100; cport++) {
    run(
      ip({ src: CLIENT, dst: VIP }).tcp({ sport: cport, dport: 80, flags: "S", seq: CSEQ })
        .mss(1460).build(),
    );
    id = t.highWater - 1;
    if (t.seqDelta[id] >= 2 ** 31) break;
    engine.removeSession(id);
  }
  if (t.seqDelta[id] < 2 ** 31) throw new Error("no session with a sequence delta >= 2^31");
  const lport = t.lport[id];
  run(
    ip({ src: RS, dst: LIP }).tcp({ sport: 80, dport: lport, flags: "SA", seq: RSEQ, ack: 1 })
      .mss(1460).build(),
  );
  const body = new Uint8Array(1400);
  const outPkt = ip({ src: RS, dst: LIP })
    .tcp({ sport: 80, dport: lport, flags: "PA", seq: RSEQ + 1, ack: 1 }).payload(body).build();
  const inPkt = ip({ src: CLIENT, dst: VIP }).tcp({
    sport: cport,
    dport: 80,
    flags: "PA",
    seq: CSEQ + 1,
    ack: RSEQ + 1401,
  }).payload(body).build();
  run(outPkt);
  const c = engine.counters;
  if (phase.endsWith("+sched")) return schedWork(engine, ctl, v6, { CLIENT, VIP, LIP, RS });
  if (phase.endsWith("+persist")) return persistWork(engine, ctl, v6, { CLIENT, VIP, LIP, RS });
  if (phase.endsWith("+guard")) {
    // Handshakes to a service with allow and deny lists and per-source limits it never reaches
    // (`admission.ts`): every SYN passes the checksum, both lists and the per-source table.
    ctl.editService(key, {
      allow: v6 ? ["2001:db8:2::/48", "2001:db8:3::1"] : ["198.51.100.0/24", "192.0.2.7"],
      deny: v6 ? ["2001:db8:2:1::/64"] : ["198.51.100.66"],
      sourceRate: 1_000_000_000,
      sourceSessions: 1_000_000,
    });
  }
  if (phase.endsWith("+synproxy")) {
    ctl.editService(key, { synProxy: true });
    return synProxyWork(engine, v6, run, buf, { CLIENT, VIP, LIP, RS });
  }
  if (!phase.endsWith("+handshake") && !phase.endsWith("+guard")) {
    let i = 0;
    return {
      step: () => void run((i++ & 1) === 0 ? inPkt : outPkt),
      packetsPerStep: 1,
      forwarded: () => c.forwarded,
    };
  }
  // Fresh client ports below the established session's; the local port is read back from the
  // rewritten SYN and put into the SYN-ACK.
  const syn = ip({ src: CLIENT, dst: VIP }).tcp({ sport: 1025, dport: 80, flags: "S", seq: CSEQ })
    .mss(1460).sackPermitted().timestamp(12345, 0).nop().wscale(7).build();
  const synAck = ip({ src: RS, dst: LIP }).tcp({ sport: 80, dport: 1, flags: "SA", seq: RSEQ })
    .mss(1460).sackPermitted().nop().wscale(7).build();
  const ack = ip({ src: CLIENT, dst: VIP })
    .tcp({ sport: 1025, dport: 80, flags: "A", seq: CSEQ + 1, ack: RSEQ + 1 }).build();
  const l4 = v6 ? 40 : 20;
  let port = 1024;
  return {
    step: () => {
      port = port >= 39999 ? 1025 : port + 1;
      setSynPort(syn, l4, port);
      ack[l4] = port >>> 8;
      ack[l4 + 1] = port & 255;
      run(syn);
      synAck[l4 + 2] = buf[l4];
      synAck[l4 + 3] = buf[l4 + 1];
      run(synAck);
      run(ack);
      engine.removeSession(t.highWater - 1);
    },
    packetsPerStep: 3,
    forwarded: () => c.forwarded,
  };
}

/**
 * TUNNEL (`engine+tunnel`): per step, a data segment of an established session and a fresh
 * connection's SYN and ACK, each wrapped in IPIP (IPv6 in IPv6), and a data segment each to a
 * GUE and a GRE server with checksums; the new session then ends.
 */
function tunnelWork(v6: boolean): EngineWork {
  const ip = v6 ? ipv6 : ipv4;
  const VIP = v6 ? "2001:db8::10" : "198.51.100.10";
  const RS = v6 ? "2001:db8:1::11" : "203.0.113.11";
  const CLIENT = v6 ? "2001:db8:2::2" : "198.51.100.2";
  const engine = new Engine({
    clock: () => performance.now(),
    capacity: 1 << 16,
    tunnelSources: [v6 ? "2001:db8:1::250" : "203.0.113.250"],
  });
  const ctl = new EngineControl(engine);
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "tunnel" });
  // GUE and GRE, with their checksums (the longest paths), on services of their own.
  const encaps = [
    { port: 443, tunnelType: "gue" as const, tunnelPort: 6080 },
    { port: 8080, tunnelType: "gre" as const },
  ];
  for (const { port, ...tunnel } of encaps) {
    const k = { ...key, port };
    ctl.addService(k, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(k, { address: RS, port, weight: 1, method: "tunnel", ...tunnel });
    ctl.editRealServer(k, { address: RS, port, tunnelChecksum: true });
  }
  const buf = new Uint8Array(4096);
  const run = (p: Uint8Array): Verdict => {
    buf.set(p);
    return engine.handle(buf, 0, p.length, buf.length);
  };
  const CSEQ = 0xf0000000;
  run(
    ip({ src: CLIENT, dst: VIP }).tcp({ sport: 40000, dport: 80, flags: "S", seq: CSEQ }).build(),
  );
  const dataTo = (dport: number) =>
    ip({ src: CLIENT, dst: VIP }).tcp({
      sport: 40000,
      dport,
      flags: "PA",
      seq: CSEQ + 1,
      ack: 0xe0000001,
    }).payload(new Uint8Array(1200)).build(); // fits the MTU behind IPv6, UDP and GUE
  const data = dataTo(80);
  const encapData = encaps.map(({ port }) => {
    run(
      ip({ src: CLIENT, dst: VIP }).tcp({ sport: 40000, dport: port, flags: "S", seq: CSEQ })
        .build(),
    );
    return dataTo(port);
  });
  const syn = ip({ src: CLIENT, dst: VIP }).tcp({ sport: 1025, dport: 80, flags: "S", seq: CSEQ })
    .mss(1460).build();
  const ack = ip({ src: CLIENT, dst: VIP })
    .tcp({ sport: 1025, dport: 80, flags: "A", seq: CSEQ + 1, ack: 0xe0000001 }).build();
  const l4 = v6 ? 40 : 20;
  const t = engine.table;
  let port = 1024;
  return {
    step: () => {
      run(data);
      for (const d of encapData) run(d);
      port = port >= 39999 ? 1025 : port + 1;
      setSynPort(syn, l4, port);
      ack[l4] = port >>> 8;
      ack[l4 + 1] = port & 255;
      run(syn);
      run(ack);
      engine.removeSession(t.highWater - 1);
    },
    packetsPerStep: 3 + encaps.length,
    forwarded: () => engine.counters.tunnelEncapsulated,
  };
}

/**
 * Writes the 16-bit word at even offset `at` of the SYN whose TCP header is at `l4`, updating
 * its TCP checksum (RFC 1624; a port, or an address word of the pseudo-header): the engine
 * drops a SYN whose checksum is wrong.
 */
function setSynWord(p: Uint8Array, l4: number, at: number, value: number): void {
  const old = (p[at] << 8) | p[at + 1];
  p[at] = value >>> 8;
  p[at + 1] = value & 255;
  let sum = (~((p[l4 + 16] << 8) | p[l4 + 17]) & 0xffff) + (~old & 0xffff) + value;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const check = ~sum & 0xffff;
  p[l4 + 16] = check >>> 8;
  p[l4 + 17] = check & 255;
}

/**
 * SYN proxy handshakes (`engine+synproxy`): per step a client SYN from a fresh port (answered
 * with a cookie), its cookie ACK (the SYN to the server), the server's SYN-ACK (the held ACK
 * replayed); the cookie, the local port and the balancer's ISN are read back from what the
 * engine wrote. Counts as forwarded: cookie SYN-ACKs, SYNs to the server and answered
 * handshakes.
 */
function synProxyWork(
  engine: Engine,
  v6: boolean,
  run: (p: Uint8Array) => Verdict,
  buf: Uint8Array,
  a: { CLIENT: string; VIP: string; LIP: string; RS: string },
): EngineWork {
  const ip = v6 ? ipv6 : ipv4;
  const CSEQ = 0xf0000000;
  const syn = ip({ src: a.CLIENT, dst: a.VIP })
    .tcp({ sport: 1025, dport: 80, flags: "S", seq: CSEQ })
    .mss(1460).sackPermitted().timestamp(12345, 0).nop().wscale(7).build();
  const ack = ip({ src: a.CLIENT, dst: a.VIP })
    .tcp({ sport: 1025, dport: 80, flags: "A", seq: CSEQ + 1, ack: 0 }).nop(2)
    .timestamp(12346, 0).build();
  const synAck = ip({ src: a.RS, dst: a.LIP })
    .tcp({ sport: 80, dport: 1, flags: "SA", seq: 0xe0000000, ack: 0 })
    .mss(1460).sackPermitted().timestamp(999, 12346).nop().wscale(9).build();
  const l4 = v6 ? 40 : 20;
  const c = engine.counters;
  const t = engine.table;
  /** The 16-bit word at `at` of what the engine wrote. */
  const word = (at: number) => (buf[at] << 8) | buf[at + 1];
  let port = 1024;
  return {
    step: () => {
      port = port >= 39999 ? 1025 : port + 1;
      setSynPort(syn, l4, port);
      run(syn);
      // The ACK: its port, the cookie + 1 as its ack, the cookie TSval echoed.
      setSynPort(ack, l4, port);
      const hi = word(l4 + 4);
      const lo = word(l4 + 6) + 1;
      setSynWord(ack, l4, l4 + 8, (hi + (lo >>> 16)) & 0xffff);
      setSynWord(ack, l4, l4 + 10, lo & 0xffff);
      setSynWord(ack, l4, l4 + 20 + 8, word(l4 + 20 + 8));
      setSynWord(ack, l4, l4 + 20 + 10, word(l4 + 20 + 10));
      run(ack);
      // The server's SYN-ACK to the local port, acking the balancer's ISN + 1.
      setSynWord(synAck, l4, l4 + 2, word(l4));
      const ihi = word(l4 + 4);
      const ilo = word(l4 + 6) + 1;
      setSynWord(synAck, l4, l4 + 8, (ihi + (ilo >>> 16)) & 0xffff);
      setSynWord(synAck, l4, l4 + 10, ilo & 0xffff);
      run(synAck);
      engine.removeSession(t.highWater - 1);
    },
    packetsPerStep: 3,
    forwarded: () => c.synProxyCookiesSent + c.synProxyCookieValid + c.synProxyServerAnswered,
  };
}

/** Writes client port `port` into the SYN at `l4`, checksum updated. */
function setSynPort(p: Uint8Array, l4: number, port: number): void {
  setSynWord(p, l4, l4, port);
}

/** Handshakes to services of every scheduler but rr and wrr, in turn (`engine+sched`). */
function schedWork(
  engine: Engine,
  ctl: EngineControl,
  v6: boolean,
  a: { CLIENT: string; VIP: string; LIP: string; RS: string },
): EngineWork {
  const ip = v6 ? ipv6 : ipv4;
  const services = [
    { scheduler: "lc", weights: [1, 2, 0] },
    { scheduler: "wlc", weights: [1, 2, 0] },
    { scheduler: "sh", schedulerFlags: ["sh-fallback", "sh-port"], weights: [1, 2, 0] },
    // dh hashes the one VIP: every server positive, so whichever it picks forwards.
    { scheduler: "dh", weights: [1, 2, 1] },
    { scheduler: "mh", schedulerFlags: ["mh-fallback", "mh-port"], weights: [1, 2, 0] },
  ] as const;
  const servers = v6 ? ["2001:db8:1::21", "2001:db8:1::22", "2001:db8:1::23"] : [
    "203.0.113.21",
    "203.0.113.22",
    "203.0.113.23",
  ];
  services.forEach((svc, i) => {
    const key = { protocol: "tcp" as const, address: a.VIP, port: 81 + i };
    ctl.addService(key, {
      scheduler: svc.scheduler,
      persistence: 0,
      ...("schedulerFlags" in svc && { schedulerFlags: [...svc.schedulerFlags] }),
    });
    svc.weights.forEach((weight, j) =>
      ctl.addRealServer(key, { address: servers[j], port: 80, weight, method: "fullnat" })
    );
    ctl.addLocalAddress(key, a.LIP);
  });
  const buf = new Uint8Array(4096);
  const run = (p: Uint8Array): Verdict => {
    buf.set(p);
    return engine.handle(buf, 0, p.length, buf.length);
  };
  const CSEQ = 0xf0000000;
  const RSEQ = 0xe0000000;
  const syn = ip({ src: a.CLIENT, dst: a.VIP }).tcp({
    sport: 1025,
    dport: 81,
    flags: "S",
    seq: CSEQ,
  })
    .mss(1460).sackPermitted().timestamp(12345, 0).nop().wscale(7).build();
  const synAck = ip({ src: a.RS, dst: a.LIP }).tcp({ sport: 80, dport: 1, flags: "SA", seq: RSEQ })
    .mss(1460).sackPermitted().nop().wscale(7).build();
  const ack = ip({ src: a.CLIENT, dst: a.VIP })
    .tcp({ sport: 1025, dport: 81, flags: "A", seq: CSEQ + 1, ack: RSEQ + 1 }).build();
  const l4 = v6 ? 40 : 20;
  // Where the rewritten SYN carries its destination (the scheduled server) and the SYN-ACK its
  // source.
  const dst = v6 ? 24 : 16;
  const src = v6 ? 8 : 12;
  const addrLen = v6 ? 16 : 4;
  let port = 1024;
  let service = 0;
  const t = engine.table;
  return {
    step: () => {
      port = port >= 39999 ? 1025 : port + 1;
      service = service === services.length - 1 ? 0 : service + 1;
      setSynPort(syn, l4, port);
      ack[l4] = port >>> 8;
      ack[l4 + 1] = port & 255;
      setSynWord(syn, l4, l4 + 2, 81 + service);
      ack[l4 + 3] = 81 + service;
      run(syn);
      for (let k = 0; k < addrLen; k++) synAck[src + k] = buf[dst + k];
      synAck[l4 + 2] = buf[l4];
      synAck[l4 + 3] = buf[l4 + 1];
      run(synAck);
      run(ack);
      engine.removeSession(t.highWater - 1);
    },
    packetsPerStep: 3,
    forwarded: () => engine.counters.forwarded,
  };
}

/**
 * Handshakes from 256 client addresses to two persistent services in turn (`engine+persist`):
 * port 81's templates are found and renewed, port 82's (1 s, with `-M`: two clients each) have
 * expired by the client's next visit and are made anew.
 */
function persistWork(
  engine: Engine,
  ctl: EngineControl,
  v6: boolean,
  a: { CLIENT: string; VIP: string; LIP: string; RS: string },
): EngineWork {
  const ip = v6 ? ipv6 : ipv4;
  for (const [port, persistence, persistenceMask] of [[81, 3600], [82, 1, v6 ? 127 : 31]]) {
    const key = { protocol: "tcp" as const, address: a.VIP, port };
    ctl.addService(key, {
      scheduler: "rr",
      persistence,
      ...(persistenceMask !== undefined && { persistenceMask }),
    });
    ctl.addRealServer(key, { address: a.RS, port: 80, weight: 1, method: "fullnat" });
    ctl.addLocalAddress(key, a.LIP);
  }
  const buf = new Uint8Array(4096);
  const run = (p: Uint8Array): Verdict => {
    buf.set(p);
    return engine.handle(buf, 0, p.length, buf.length);
  };
  const CSEQ = 0xf0000000;
  const RSEQ = 0xe0000000;
  const syn = ip({ src: a.CLIENT, dst: a.VIP })
    .tcp({ sport: 1025, dport: 81, flags: "S", seq: CSEQ }).mss(1460).sackPermitted().build();
  const synAck = ip({ src: a.RS, dst: a.LIP }).tcp({ sport: 80, dport: 1, flags: "SA", seq: RSEQ })
    .mss(1460).sackPermitted().build();
  const ack = ip({ src: a.CLIENT, dst: a.VIP })
    .tcp({ sport: 1025, dport: 81, flags: "A", seq: CSEQ + 1, ack: RSEQ + 1 }).build();
  const l4 = v6 ? 40 : 20;
  // The last byte of the client's address.
  const lastSrc = v6 ? 23 : 15;
  let port = 1024;
  let client = 0;
  let service = 0;
  const t = engine.table;
  return {
    step: () => {
      port = port >= 39999 ? 1025 : port + 1;
      service ^= 1;
      if (service === 0) client = (client + 1) & 255;
      setSynPort(syn, l4, port);
      ack[l4] = port >>> 8;
      ack[l4 + 1] = port & 255;
      setSynWord(syn, l4, l4 + 2, 81 + service);
      ack[l4 + 3] = 81 + service;
      setSynWord(syn, l4, lastSrc - 1, (syn[lastSrc - 1] << 8) | client);
      ack[lastSrc] = client;
      run(syn);
      synAck[l4 + 2] = buf[l4];
      synAck[l4 + 3] = buf[l4 + 1];
      run(synAck);
      run(ack);
      engine.removeSession(t.highWater - 1);
    },
    packetsPerStep: 3,
    forwarded: () => engine.counters.forwarded,
  };
}

/** Runs an engine-only phase the way {@linkcode child} runs the others. */
function engineChild(phase: string, packets: number): PhaseResult {
  const work = engineWork(phase);
  const steps = Math.ceil(packets / work.packetsPerStep);
  for (let i = 0; i < Math.max(100_000, steps / 4); i++) work.step();
  (globalThis as { gc?: () => void }).gc?.();
  const before = Deno.memoryUsage().heapUsed;
  const forwardedBefore = work.forwarded();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) work.step();
  const ms = performance.now() - t0;
  const growth = Deno.memoryUsage().heapUsed - before;
  const n = steps * work.packetsPerStep;
  return {
    phase,
    packets: n,
    heapGrowth: growth,
    bytesPerPacket: growth / n,
    nsPerPacket: (ms * 1e6) / n,
    rewritten: work.forwarded() - forwardedBefore,
    checksumsCompleted: 0,
  };
}

function child(packets: number, phases: string[]): void {
  for (const phase of phases) {
    if (phase.startsWith("engine")) {
      console.log(JSON.stringify(engineChild(phase, packets)));
      continue;
    }
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
