/**
 * What a SYN costs the engine when it opens a session, side by side with what it costs when
 * it is refused by each refusal path (issue 16 point 4: refusals under a flood must cost less
 * than a session): a bad TCP checksum, the deny list, a miss of the allow list, the per-source
 * rate, the per-source session limit, a full session table, no real server with a positive
 * weight, no free local port. Nanoseconds and heap bytes allocated per packet, in one run.
 *
 *   deno run -A bench/refusal_cost.ts [--packets N]
 *
 * Every row is measured in a fresh child Deno (so no row's JIT state colours another's), the
 * way `testkit/alloc_probe.ts` measures: a 64 MiB young generation and a collection before the
 * measured loop, so the growth of `heapUsed` over it is exactly what it allocated. The packet is
 * the bare SYN `hping3 --flood --rand-source -S` sends (no options), from a new source address
 * (of 65,536 in 10.0.0.0/8) and port each time, the checksum kept right by incremental update
 * (RFC 1624), with sequence number 0x9abcdef0 (2^31 or more, as half a flood's random ones are:
 * what makes a value crossing a call boxed in V8); the engine's clock is `performance.now()`, as the daemon's runs. Each row warms
 * up on an engine of its own, then is measured on a fresh one set up the same way (primed where
 * the path needs it: sources at their limit, a full table, no free port). The loop's own work
 * (restoring the packet, editing its source) is a row of its own, included in every figure.
 * A row counts as measured only when its engine counter accounts for at least 99% of its
 * packets ("share"); the per-source rate refills one token a second per source while it runs.
 *
 * @module
 */
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine, type EngineOptions } from "../src/fullnat/engine.ts";
import type { EngineCounters } from "../src/fullnat/counters.ts";
import { Verdict } from "../src/nfqueue/handler.ts";
import { ipv4 } from "../testkit/packet_builder.ts";

const VIP = "198.51.100.10";
const LIPS = ["203.0.113.201", "203.0.113.202", "203.0.113.203", "203.0.113.204"];
const RS = "203.0.113.11";
const KEY = { protocol: "tcp" as const, address: VIP, port: 80 };
const SEMI_SPACE_MB = 64;
/** Sources the flood cycles through (10.x.y.z, pseudo-random). */
const SOURCES = 1 << 16;
/** Sources of the per-source rows: each primed to its limit first. */
const LIMITED_SOURCES = 1024;

/** One row of the table. */
interface Row {
  /** Short name, as given on the command line of the child. */
  name: string;
  /** What the row measures. */
  what: string;
  /** The counter that must account for the row's packets. */
  counter: keyof EngineCounters;
  /** The verdict the engine gives these packets. */
  verdict: Verdict;
  /** Engine options beyond the defaults of {@linkcode makeEngine}. */
  engine?: Partial<EngineOptions>;
  /** Sets up the service after it was made (lists, limits, weights). */
  service?: (ctl: EngineControl) => void;
  /** Sources the row's SYNs come from (default {@linkcode SOURCES}). */
  sources?: number;
  /** SYNs sent, outside the timing, before the measured loop (to fill a table or a limit). */
  prime?: (send: () => void, engine: Engine) => void;
  /** At most this many packets measured (sessions fill the table). */
  maxPackets?: number;
  /** No engine at all: the loop's own cost. */
  loopOnly?: boolean;
  /** Corrupt the TCP checksum of every packet. */
  badChecksum?: boolean;
}

/**
 * SYNs until `counter` has moved for 10,000 in a row with no session made: a table, or a
 * service's local ports, is full (a full hash bucket can refuse while other buckets have room).
 */
function fillUntil(counter: keyof EngineCounters) {
  return (send: () => void, engine: Engine) => {
    const c = engine.counters;
    let streak = 0;
    for (let i = 0; streak < 10_000; i++) {
      if (i > 5_000_000) throw new Error(`${counter} never settled`);
      const [refused, made] = [c[counter], c.sessionsCreated];
      send();
      streak = c[counter] > refused && c.sessionsCreated === made ? streak + 1 : 0;
    }
  };
}

/** One SYN from each of the first {@linkcode LIMITED_SOURCES} sources. */
function oneEach(send: () => void): void {
  for (let i = 0; i < LIMITED_SOURCES; i++) send();
}

const ROWS: Row[] = [
  {
    name: "loop",
    what: "the loop alone: packet restored, source edited (in every row)",
    counter: "packets",
    verdict: Verdict.Accept,
    loopOnly: true,
  },
  {
    name: "session",
    what: "SYN opens a session (schedule, local port, TOA, ISN, insert)",
    counter: "sessionsCreated",
    verdict: Verdict.Rewritten,
    maxPackets: 200_000,
  },
  {
    name: "guarded-session",
    what: "SYN opens a session past allow, deny and per-source limits",
    counter: "sessionsCreated",
    verdict: Verdict.Rewritten,
    service: (ctl) =>
      ctl.editService(KEY, {
        allow: ["10.0.0.0/8"],
        deny: ["192.0.2.0/24"],
        sourceRate: 100,
        sourceSessions: 100,
      }),
    maxPackets: 200_000,
  },
  {
    name: "bad-checksum",
    what: "refused: bad TCP checksum",
    counter: "badChecksum",
    verdict: Verdict.Drop,
    badChecksum: true,
  },
  {
    name: "deny",
    what: "refused: source in the deny list (10.0.0.0/8)",
    counter: "aclDenied",
    verdict: Verdict.Drop,
    service: (ctl) => ctl.editService(KEY, { deny: ["192.0.2.0/24", "10.0.0.0/8"] }),
  },
  {
    name: "allow-miss",
    what: "refused: source not in the allow list",
    counter: "aclDenied",
    verdict: Verdict.Drop,
    service: (ctl) => ctl.editService(KEY, { allow: ["192.0.2.0/24", "172.16.0.0/12"] }),
  },
  {
    name: "source-rate",
    what: `refused: source over --source-rate 1 (${LIMITED_SOURCES} sources)`,
    counter: "sourceRateRefused",
    verdict: Verdict.Drop,
    service: (ctl) => ctl.editService(KEY, { sourceRate: 1 }),
    // A clock that stands still: on a loaded machine a second can pass between priming and
    // measuring, and every bucket would refill (the row would then measure new sessions).
    engine: { clock: () => 1_000 },
    sources: LIMITED_SOURCES,
    prime: oneEach,
  },
  {
    name: "source-sessions",
    what: `refused: source holds --source-sessions 1 (${LIMITED_SOURCES} sources)`,
    counter: "sourceSessionsRefused",
    verdict: Verdict.Drop,
    service: (ctl) => ctl.editService(KEY, { sourceSessions: 1 }),
    sources: LIMITED_SOURCES,
    prime: oneEach,
  },
  {
    name: "table-full",
    what: "refused: session table full (reject policy reset: a RST back)",
    counter: "tableFull",
    verdict: Verdict.Rewritten,
    engine: { capacity: 4096 },
    prime: fillUntil("tableFull"),
  },
  {
    name: "table-full-drop",
    what: "refused: session table full, --reject drop (dropped)",
    counter: "tableFull",
    verdict: Verdict.Drop,
    engine: { capacity: 4096, rejectPolicy: "drop" },
    prime: fillUntil("tableFull"),
  },
  {
    name: "no-server",
    what: "refused: no real server of positive weight (a RST back)",
    counter: "noRealServer",
    verdict: Verdict.Rewritten,
    service: (ctl) => ctl.editRealServer(KEY, { address: RS, port: 80, weight: 0 }),
  },
  {
    name: "no-port",
    what: "refused: no free local port (a RST back)",
    counter: "portExhausted",
    verdict: Verdict.Rewritten,
    engine: { localPortRange: [5000, 5255] },
    prime: fillUntil("portExhausted"),
  },
];

/** What a child reports for its row. */
interface Result {
  name: string;
  packets: number;
  nsPerPacket: number;
  bytesPerPacket: number;
  /** Share of the packets the row's counter accounts for. */
  share: number;
}

if (Deno.args[0] === "--child") {
  console.log(JSON.stringify(measure(ROWS.find((r) => r.name === Deno.args[1])!, +Deno.args[2])));
} else if (import.meta.main) {
  const i = Deno.args.indexOf("--packets");
  const packets = i >= 0 ? Number(Deno.args[i + 1]) : 1_000_000;
  if (!(Number.isInteger(packets) && packets >= 10_000)) {
    throw new Error(`--packets must be an integer of at least 10000 (got ${Deno.args[i + 1]})`);
  }
  console.log(
    `engine cost of one SYN, ${packets} per row (sessions: at most 200000), a bare SYN from a ` +
      `new source and port each time`,
  );
  console.log(
    `  ${"row".padEnd(16)}${"ns/packet".padStart(10)}${"B/packet".padStart(10)}` +
      `${"x session".padStart(11)}${"share".padStart(8)}  what`,
  );
  let session = 0;
  for (const row of ROWS) {
    const r = await runChild(row.name, packets);
    if (row.name === "session") session = r.nsPerPacket;
    const ratio = session === 0 ? "" : (r.nsPerPacket / session).toFixed(2);
    console.log(
      `  ${row.name.padEnd(16)}${r.nsPerPacket.toFixed(0).padStart(10)}` +
        `${r.bytesPerPacket.toFixed(3).padStart(10)}${ratio.padStart(11)}` +
        `${(r.share * 100).toFixed(1).padStart(7)}%  ${row.what}`,
    );
  }
}

/** Runs row `name` in a child Deno with a large young generation. */
async function runChild(name: string, packets: number): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=--min-semi-space-size=${SEMI_SPACE_MB},--max-semi-space-size=${SEMI_SPACE_MB}` +
      ",--expose-gc,--no-concurrent-recompilation,--no-concurrent-osr",
      new URL(import.meta.url).pathname,
      "--child",
      name,
      String(packets),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`row ${name} failed (exit ${out.code})`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

/** An engine with one FULLNAT service (rr, one real server, four local addresses). */
function makeEngine(row: Row): Engine {
  const engine = new Engine({ clock: () => performance.now(), capacity: 1 << 20, ...row.engine });
  const ctl = new EngineControl(engine);
  ctl.addService(KEY, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(KEY, { address: RS, port: 80, weight: 1, method: "fullnat" });
  for (const l of LIPS) ctl.addLocalAddress(KEY, l);
  row.service?.(ctl);
  return engine;
}

/** The 16-bit word at even offset `at` of an IPv4 TCP packet set to `v`, checksums updated. */
function setWord(p: Uint8Array, at: number, v: number, inIpHeader: boolean): void {
  const old = (p[at] << 8) | p[at + 1];
  p[at] = v >>> 8;
  p[at + 1] = v & 255;
  fixSum(p, 36, old, v);
  if (inIpHeader) fixSum(p, 10, old, v);
}

/** RFC 1624: the checksum at `at` after a word went from `old` to `v`. */
function fixSum(p: Uint8Array, at: number, old: number, v: number): void {
  let sum = (~((p[at] << 8) | p[at + 1]) & 0xffff) + (~old & 0xffff) + v;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const check = ~sum & 0xffff;
  p[at] = check >>> 8;
  p[at + 1] = check & 255;
}

/** Measures `row` over `packets` SYNs (fewer for sessions), in this process. */
function measure(row: Row, packets: number): Result {
  const n = Math.min(packets, row.maxPackets ?? packets);
  const sources = row.sources ?? SOURCES;
  // Source addresses 10.x.y.z as two words each, a fixed pseudo-random sequence.
  const hi = new Uint16Array(sources);
  const lo = new Uint16Array(sources);
  let x = 12345;
  for (let i = 0; i < sources; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    hi[i] = 0x0a00 | ((x >>> 8) & 255);
    lo[i] = (x >>> 16) & 0xffff;
  }
  const syn = ipv4({ src: "10.0.0.1", dst: VIP })
    .tcp({ sport: 1024, dport: 80, flags: "S", seq: 0x9abcdef0 }).build();
  const buf = new Uint8Array(2048);
  // One stream of tuples per engine; the verdict must be the row's once primed (priming
  // SYNs open sessions).
  const run = (engine: Engine | undefined, primed: { done: boolean }) => {
    let k = 0;
    let port = 1024;
    return () => {
      k = k + 1 === sources ? 0 : k + 1;
      // A new port each time round the sources: every SYN is a new tuple.
      if (k === 0) port = port === 65535 ? 1024 : port + 1;
      setWord(syn, 12, hi[k], true);
      setWord(syn, 14, lo[k], true);
      setWord(syn, 20, port, false);
      buf.set(syn);
      if (row.badChecksum) buf[36] ^= 1;
      if (engine === undefined) return;
      const v = engine.handle(buf, 0, syn.length, buf.length);
      if (primed.done && v !== row.verdict) {
        throw new Error(`row ${row.name}: verdict ${v}, expected ${row.verdict}`);
      }
    };
  };
  const loop = (engine: Engine | undefined, count: number) => {
    const primed = { done: false };
    const send = run(engine, primed);
    if (engine !== undefined) row.prime?.(send, engine);
    primed.done = true;
    return { send, count };
  };
  // Warm-up on an engine of its own, then a fresh one for the measurement.
  const warm = loop(row.loopOnly ? undefined : makeEngine(row), n);
  for (let i = 0; i < Math.max(100_000, n / 4); i++) {
    if (row.maxPackets !== undefined && i >= n) break;
    warm.send();
  }
  const engine = row.loopOnly ? undefined : makeEngine(row);
  const { send } = loop(engine, n);
  const before = engine === undefined ? 0 : engine.counters[row.counter];
  (globalThis as { gc?: () => void }).gc?.();
  const heap = Deno.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) send();
  const ms = performance.now() - t0;
  const growth = Deno.memoryUsage().heapUsed - heap;
  const counted = engine === undefined ? n : engine.counters[row.counter] - before;
  const share = counted / n;
  if (share < 0.99) {
    throw new Error(`row ${row.name}: ${row.counter} counted ${counted} of ${n} packets`);
  }
  return {
    name: row.name,
    packets: n,
    nsPerPacket: (ms * 1e6) / n,
    bytesPerPacket: growth / n,
    share,
  };
}
