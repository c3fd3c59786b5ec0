/**
 * The engine fuzzer's short run (issue 16, "Under attack"): 120,000 generated and mutated
 * IPv4/IPv6 TCP/UDP/ICMP packets (option lists, ICMP quotes of live sessions, fragments,
 * lengths that lie) through one engine with a service of every kind, every invariant checked
 * after every packet (testkit/fuzz/run.ts). The long run is `bench/fuzz_engine.ts`. The
 * fuzzer's checks are themselves tested here against engines broken on purpose, so a run that
 * finds nothing means something.
 */
import assert from "node:assert/strict";
import { fuzzEngine, FuzzFailure, type FuzzOptions } from "../../testkit/fuzz/run.ts";
import { locate, repair } from "../../testkit/fuzz/packet_check.ts";
import { Verdict } from "../nfqueue/handler.ts";
import type { Engine } from "./engine.ts";

/**
 * The suite's seed, one whose 120,000 packets reach every path listed below (the reject
 * policy flips rarely, so some seeds never send a reset); `FULLNAT_FUZZ_SEED` replays another.
 */
const SEED = Number(Deno.env.get("FULLNAT_FUZZ_SEED") ?? 1);

Deno.test("fuzzed engine: 120,000 packets keep every invariant and reach every path", () => {
  console.log(`fuzz seed ${SEED}`);
  const r = fuzzEngine({ seed: SEED, packets: 120_000 });
  const c = r.counters;
  // Every verdict, and the paths the generator exists to reach, were reached.
  for (const [k, v] of Object.entries(r.verdicts)) assert.ok(v > 100, `${k} verdicts: ${v}`);
  for (
    const k of [
      "forwarded",
      "drRouted",
      "tunnelEncapsulated",
      "tunnelFragNeeded",
      "tunnelReplySeen",
      "icmpErrorsTranslated",
      "icmpMalformedQuote",
      "icmpNoSession",
      "malformedIp",
      "malformedL4",
      "fragments",
      "notIp",
      "otherProtocolDropped",
      "toaInserted",
      "toaSpoofRemoved",
      "toaFragNeeded",
      "sackBlocksTranslated",
      "mssClamped",
      "noSessionResets",
      "orphansReset",
      "resetsSent",
      "tableFull",
      "noRealServer",
      "templatesReused",
      "onePacketAnswered",
      "expiryResets",
    ]
  ) assert.ok(c[k] > 0, `counter ${k} never moved`);
  assert.ok(r.checksumsVerified > 10_000, `checksums verified on ${r.checksumsVerified} rewrites`);
  assert.ok(r.emitted > 0, "resets on expiry were emitted and checked");
  console.log(`${r.packets} packets, ${Math.round(r.packets / r.milliseconds * 1000)} packets/s`);
});

Deno.test("fuzzed engine: a seed replays the very same run", () => {
  const a = fuzzEngine({ seed: 77, packets: 8000 });
  const b = fuzzEngine({ seed: 77, packets: 8000 });
  assert.deepEqual(a.counters, b.counters);
  assert.deepEqual(a.verdicts, b.verdicts);
  assert.notDeepEqual(fuzzEngine({ seed: 78, packets: 8000 }).counters, a.counters);
});

/** The failure a run over an engine broken by `tamper` stops with. */
function failureOf(tamper: FuzzOptions["tamper"]): FuzzFailure {
  try {
    fuzzEngine({ seed: 3, packets: 20_000, tamper });
  } catch (e) {
    if (e instanceof FuzzFailure) return e;
    throw e;
  }
  throw new Error("the fuzzer did not notice the broken engine");
}

/** Wraps `engine.handle` with `after`, called with the verdict and the handle() arguments. */
function afterHandle(
  after: (e: Engine, v: Verdict, b: Uint8Array, o: number, len: number, cap: number) => Verdict,
): FuzzOptions["tamper"] {
  return (engine) => {
    const handle = engine.handle.bind(engine);
    engine.handle = (b, o, len, cap, skb) =>
      after(engine, handle(b, o, len, cap, skb), b, o, len, cap);
  };
}

Deno.test("fuzzer: catches an engine that throws", () => {
  let n = 0;
  const f = failureOf(afterHandle((_e, v) => {
    if (++n === 500) throw new RangeError("offset is outside the bounds of the DataView");
    return v;
  }));
  assert.equal(f.index, 499);
  assert.match(f.reason, /threw: RangeError/);
});

Deno.test("fuzzer: catches a write past the bytes lent, and before them", () => {
  let n = 0;
  const past = failureOf(afterHandle((_e, v, b, o, _len, cap) => {
    if (++n === 700) b[o + cap] = 0;
    return v;
  }));
  assert.match(past.reason, /past the \d+ bytes lent/);
  n = 0;
  const before = failureOf(afterHandle((_e, v, b, o) => {
    if (++n === 700) b[o - 3] ^= 1;
    return v;
  }));
  assert.match(before.reason, /wrote 3 bytes before the packet/);
});

Deno.test("fuzzer: catches a rewrite with a broken checksum or length", () => {
  const sum = failureOf(afterHandle((e, v, b, o) => {
    // The last byte of a rewrite: TCP payload, a checksum, an address...
    if (v === Verdict.Rewritten && e.outLength > 60) b[o + e.outLength - 1] ^= 0x10;
    return v;
  }));
  assert.match(sum.reason, /checksum/);
  assert.ok(sum.output !== undefined);
  const length = failureOf(afterHandle((e, v) => {
    if (v === Verdict.Rewritten) e.outLength -= 1;
    return v;
  }));
  assert.match(length.reason, /does not parse|IP length says/);
});

Deno.test("fuzzer: catches a payload changed under right checksums", () => {
  const f = failureOf(afterHandle((e, v, b, o) => {
    const at = v === Verdict.Rewritten ? locate(b, o, e.outLength) : undefined;
    if (at !== undefined && at.proto === 6 && !at.fragment) {
      const data = at.l4 + ((b[at.l4 + 12] >>> 4) << 2);
      if (data < at.end) {
        b[data] ^= 0x20;
        repair(b, o, e.outLength);
      }
    }
    return v;
  }));
  assert.match(f.reason, /payload byte 0 changed/);
});

Deno.test("fuzzer: catches an accepted packet that was changed", () => {
  const f = failureOf(afterHandle((_e, v, b, o, len) => {
    if (v === Verdict.Accept && len > 30) b[o + 25] ^= 0xff;
    return v;
  }));
  assert.match(f.reason, /verdict 0 but byte 25 changed/);
});

Deno.test("fuzzer: catches counters that do not add up", () => {
  let n = 0;
  const outcome = failureOf(afterHandle((e, v) => {
    if (++n === 900) e.counters.passedThrough++;
    return v;
  }));
  assert.match(outcome.reason, /outcome counters sum to/);
  const verdict = failureOf(afterHandle((_e, v) => v === Verdict.Marked ? Verdict.Accept : v));
  assert.match(verdict.reason, /Marked verdicts|Rewritten verdicts/);
  let m = 0;
  const sessions = failureOf(afterHandle((e, v) => {
    if (++m === 900) e.counters.sessionsCreated++;
    return v;
  }));
  assert.match(sessions.reason, /table holds/);
});
