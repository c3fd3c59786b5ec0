/**
 * The engine fuzzer's loop: packets from {@linkcode Generator} through the plan's engine
 * (`plan.ts`), each one placed between guard bytes in a larger buffer, with the invariants
 * checked after every packet: `handle()` does not throw; nothing is written outside the
 * bytes the engine was lent; Accept and Marked leave the packet untouched; a Rewritten packet
 * parses, its IP length is the length the engine reported, it grew past the MTU only if it is
 * a GSO super-packet or may be fragmented, a forwarded segment's payload is the one it came
 * with, and every checksum it has that
 * the packet it came from had right is right (the replies the engine writes, always); the
 * counters add up (`counter_identities.ts`). The clock moves, sessions expire (their resets
 * checked like any packet the engine wrote). The first violation stops the run with the
 * seed, the packet's index and its bytes, so it can be replayed and made a fixture row.
 *
 * @module
 */
import type { Engine } from "../../src/fullnat/engine.ts";
import type { RealServer } from "../../src/fullnat/service.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import { counterProblems, sessionProblems, type VerdictTally } from "./counter_identities.ts";
import { type GeneratedKinds, Generator } from "./generate.ts";
import {
  type Check,
  type ChecksumReport,
  checksums,
  locate,
  type Located,
} from "./packet_check.ts";
import { churn, type FuzzEngine, planEngine } from "./plan.ts";
import { Prng } from "./prng.ts";

/** Guard bytes before and after the bytes the engine is lent. */
const GUARD = 64;
const GUARD_BYTE = 0xa5;

/** What to run. */
export interface FuzzOptions {
  seed: number;
  packets: number;
  /** Session table size (small by default, so it fills). */
  capacity?: number;
  /** Called every `progressEvery` packets with the count so far. */
  progress?: (done: number) => void;
  progressEvery?: number;
  /**
   * Called with the engine before the first packet: the fuzzer's own test uses it to break
   * the engine on purpose and see every invariant catch it.
   */
  tamper?: (engine: Engine) => void;
}

/** What a run did. */
export interface FuzzReport {
  seed: number;
  packets: number;
  milliseconds: number;
  verdicts: VerdictTally;
  kinds: GeneratedKinds;
  /** Packets the engine emitted on its own (resets on expiry), all checked. */
  emitted: number;
  /** The engine's counters at the end, for the report. */
  counters: Record<string, number>;
  sessionsAtEnd: number;
  /** Rewritten packets whose transport checksum (or a tunnelled one) was verified right. */
  checksumsVerified: number;
}

/** An invariant the engine broke, with what is needed to replay it. */
export class FuzzFailure extends Error {
  constructor(
    readonly seed: number,
    readonly index: number,
    readonly reason: string,
    readonly input: Uint8Array,
    readonly output: Uint8Array | undefined,
  ) {
    super(
      `fuzz seed ${seed}, packet ${index}: ${reason}\n  input  ${hex(input)}` +
        (output ? `\n  output ${hex(output)}` : ""),
    );
  }
}

/** Bytes as hex without spaces, for pasting into a fixture row. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** True when `out` is `inp`'s sender's own address pair swapped: a reply the engine wrote. */
function isReply(inp: Uint8Array, out: Uint8Array): boolean {
  const a = locate(inp, 0, inp.length);
  const b = locate(out, 0, out.length);
  if (a === undefined || b === undefined || a.v6 !== b.v6) return false;
  const n = a.v6 ? 16 : 4;
  for (let i = 0; i < n; i++) {
    if (out[b.dst + i] !== inp[a.src + i] || out[b.src + i] !== inp[a.dst + i]) return false;
  }
  return true;
}

/** "`what` was right and is now wrong". */
function kept(before: Check, after: Check, what: string, out: string[]): void {
  if (before === true && after === false) out.push(`${what} checksum broken by the engine`);
}

/**
 * Problems with a packet the engine wrote, `out`, from input `inp` (empty: none). A reply the
 * engine wrote itself (a RST, an ICMP error: a different protocol or a swapped address pair)
 * must have right outer checksums whatever the input; a rewrite keeps right every checksum
 * that was right; a tunnelled packet has a right outer header and keeps its inner ones.
 */
export function outputProblems(inp: Uint8Array, out: Uint8Array): string[] {
  const problems: string[] = [];
  const at = locate(out, 0, out.length);
  if (at === undefined) return ["output does not parse (IP lengths inconsistent)"];
  if (at.end !== out.length) return [`IP length says ${at.end}, engine said ${out.length}`];
  if (at.proto === 6 && !at.fragment) {
    const l4len = at.end - at.l4;
    const hl = (out[at.l4 + 12] >>> 4) << 2;
    if (l4len < 20 || hl < 20 || hl > l4len) {
      problems.push(`output TCP header length ${hl} of ${l4len}`);
    }
  }
  const o = checksums(out, 0, out.length)!;
  const i: ChecksumReport = checksums(inp, 0, inp.length) ??
    { ip: null, l4: null, innerIp: null, innerL4: null };
  const inAt = locate(inp, 0, inp.length);
  const tunnel = (at.proto === 4 || at.proto === 41) && inAt?.proto !== at.proto;
  if (tunnel) {
    if (o.ip === false) problems.push("tunnel outer IPv4 header checksum wrong");
    kept(i.ip, o.innerIp, "tunnelled IPv4 header", problems);
    kept(i.l4, o.innerL4, "tunnelled transport", problems);
    return problems;
  }
  const fresh = inAt === undefined || inAt.proto !== at.proto || isReply(inp, out);
  if (fresh) {
    if (o.ip === false) problems.push("engine-written reply: IPv4 header checksum wrong");
    if (o.l4 === false) problems.push("engine-written reply: transport checksum wrong");
    // An ICMP error the engine writes quotes the packet it answers, as it came.
    kept(i.ip, o.innerIp, "IPv4 header quoted by an engine-written error", problems);
    return problems;
  }
  kept(i.ip, o.ip, "IPv4 header", problems);
  kept(i.l4, o.l4, "transport", problems);
  const moved = payloadProblem(inp, inAt, out, at);
  if (moved !== undefined) problems.push(moved);
  kept(i.innerIp, o.innerIp, "quoted IPv4 header", problems);
  kept(i.innerL4, o.innerL4, "quoted transport", problems);
  return problems;
}

/**
 * A forwarded TCP segment or UDP datagram carries the very payload it came with (a TOA only
 * grows the header before it), but for the SYN proxy's SYN made of a cookie ACK: undefined, or
 * what differs.
 */
function payloadProblem(
  inp: Uint8Array,
  a: Located,
  out: Uint8Array,
  b: Located,
): string | undefined {
  if (a.proto !== b.proto || a.fragment || b.fragment || (a.proto !== 6 && a.proto !== 17)) {
    return undefined;
  }
  // The SYN proxy turns a client's cookie ACK into the SYN to the real server; what the ACK
  // carried is held and sent on after the server's SYN-ACK.
  if (a.proto === 6 && (out[b.l4 + 13] & 2) !== 0 && (inp[a.l4 + 13] & 2) === 0) return undefined;
  const header = (p: Uint8Array, at: Located) => at.proto === 17 ? 8 : (p[at.l4 + 12] >>> 4) << 2;
  const from = a.l4 + header(inp, a);
  const to = b.l4 + header(out, b);
  if (from > a.end || to > b.end) return undefined;
  if (a.end - from !== b.end - to) {
    return `payload of ${a.end - from} bytes forwarded as ${b.end - to}`;
  }
  for (let k = 0; from + k < a.end; k++) {
    if (inp[from + k] !== out[to + k]) return `payload byte ${k} changed`;
  }
  return undefined;
}

/** Problems with a packet the engine emitted on its own: it parses, every checksum right. */
function emittedProblems(p: Uint8Array): string[] {
  const at = locate(p, 0, p.length);
  if (at === undefined || at.end !== p.length) return ["emitted packet does not parse"];
  const c = checksums(p, 0, p.length)!;
  const out: string[] = [];
  if (c.ip === false) out.push("emitted packet: IPv4 header checksum wrong");
  if (c.l4 === false) out.push("emitted packet: transport checksum wrong");
  return out;
}

/** Runs `options.packets` packets; throws {@linkcode FuzzFailure} at the first violation. */
export function fuzzEngine(options: FuzzOptions): FuzzReport {
  const { seed, packets } = options;
  const rng = new Prng(seed);
  const gen = new Generator(rng);
  const emittedBad: string[] = [];
  let emitted = 0;
  const fx: FuzzEngine = planEngine(options.capacity ?? 400, {
    emit: (b, o, len) => {
      emitted++;
      const problems = emittedProblems(b.slice(o, o + len));
      if (problems.length > 0) emittedBad.push(...problems);
    },
  });
  const { engine, clock } = fx;
  options.tamper?.(engine);
  let verified = 0;
  const everServer = new Set<RealServer>();
  const buf = new Uint8Array(GUARD + gen.buf.length + 512 + GUARD);
  const verdicts: VerdictTally = { accept: 0, drop: 0, rewritten: 0, marked: 0 };
  const every = options.progressEvery ?? 100_000;
  const started = performance.now();
  for (let n = 0; n < packets; n++) {
    gen.next();
    const len = gen.length;
    const input = gen.buf.subarray(0, len);
    const fail = (reason: string, output?: Uint8Array): never => {
      throw new FuzzFailure(seed, n, reason, input.slice(), output);
    };
    // Where the queue would put it: at some offset, lent at least 128 bytes beyond it.
    const o = GUARD + rng.int(8);
    const cap = len + 128 + rng.int(256);
    buf.fill(GUARD_BYTE, o - GUARD, o);
    buf.set(input, o);
    buf.fill(0xee, o + len, o + cap);
    buf.fill(GUARD_BYTE, o + cap, o + cap + GUARD);
    let v: Verdict;
    try {
      v = engine.handle(buf, o, len, cap, gen.skbInfo);
    } catch (e) {
      return fail(`handle() threw: ${e instanceof Error ? e.stack : e}`);
    }
    for (let i = o - GUARD; i < o; i++) {
      if (buf[i] !== GUARD_BYTE) fail(`wrote ${o - i} bytes before the packet`);
    }
    for (let i = o + cap; i < o + cap + GUARD; i++) {
      if (buf[i] !== GUARD_BYTE) fail(`wrote past the ${cap} bytes lent (at ${i - o})`);
    }
    if (v === Verdict.Rewritten) {
      verdicts.rewritten++;
      const outLen = engine.outLength;
      if (!(outLen >= 1 && outLen <= cap)) fail(`outLength ${outLen} outside 1..${cap}`);
      const out = buf.slice(o, o + outLen);
      // Only a GSO super-packet may grow past the MTU (TOA, a tunnel's outer header), or an
      // IPv4 packet without DF, which the kernel fragments on its way out.
      const inEnd = locate(input, 0, len)?.end ?? len;
      const fragmentable = out[0] >>> 4 === 4 && (out[6] & 0x40) === 0;
      if ((gen.skbInfo & 2) === 0 && outLen > inEnd && outLen > engine.mtu && !fragmentable) {
        fail(`grew from ${inEnd} to ${outLen} bytes, past the MTU ${engine.mtu}`, out);
      }
      const problems = outputProblems(input, out);
      if (problems.length > 0) fail(problems.join("; "), out);
      const c = checksums(out, 0, out.length)!;
      if (c.l4 === true || c.innerL4 === true) verified++;
      gen.learn(buf, o, outLen);
    } else if (v === Verdict.Accept || v === Verdict.Marked) {
      if (v === Verdict.Accept) verdicts.accept++;
      else verdicts.marked++;
      for (let i = 0; i < len; i++) {
        if (buf[o + i] !== input[i]) {
          fail(`verdict ${v} but byte ${i} changed`, buf.slice(o, o + len));
        }
      }
      if (v === Verdict.Marked) gen.learn(buf, o, len);
    } else if (v === Verdict.Drop) {
      verdicts.drop++;
    } else {
      fail(`unknown verdict ${v}`);
    }
    const counters = counterProblems(engine, verdicts);
    if (counters.length > 0) fail(counters.join("; "));
    // Time: mostly milliseconds between packets, sometimes minutes (sessions expire).
    clock.ms += rng.chance(0.001) ? rng.int(900_000) : rng.int(20);
    if (n % 2000 === 1999) {
      if (rng.chance(0.5)) {
        for (const rs of engine.registry.servers) if (rs !== undefined) everServer.add(rs);
        churn(fx, rng);
      }
      engine.expire();
      if (emittedBad.length > 0) fail(emittedBad.join("; "));
      const s = sessionProblems(engine, everServer);
      if (s.length > 0) fail(s.join("; "));
    }
    if (options.progress && n % every === every - 1) options.progress(n + 1);
  }
  const s = sessionProblems(engine, everServer);
  if (s.length > 0) {
    throw new FuzzFailure(seed, packets, s.join("; "), new Uint8Array(0), undefined);
  }
  return {
    seed,
    packets,
    milliseconds: performance.now() - started,
    verdicts,
    kinds: { ...gen.kinds },
    emitted,
    counters: { ...engine.counters } as unknown as Record<string, number>,
    sessionsAtEnd: engine.table.size,
    checksumsVerified: verified,
  };
}
