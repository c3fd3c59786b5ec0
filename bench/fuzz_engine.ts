/**
 * The long run of the engine fuzzer (`testkit/fuzz/`): millions of generated and mutated
 * packets through one engine carrying every service kind, every invariant checked after every
 * packet. The suite runs a short run (`src/fullnat/engine_fuzz_test.ts`); this is the long one.
 *
 *   deno run -A bench/fuzz_engine.ts --packets 5000000 --seed 1
 *   deno run -A bench/fuzz_engine.ts --packets 2000000 --runs 4   # seeds 1..4
 *
 * The seed is printed; a violation prints the seed, the packet's index and its bytes (replay:
 * the same seed and at least that many packets) and exits 1. Figures: packets per second.
 *
 * @module
 */
import { fuzzEngine, FuzzFailure } from "../testkit/fuzz/run.ts";

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`--${name} needs a whole number, got ${Deno.args[i + 1]}`);
    Deno.exit(2);
  }
  return v;
}

const packets = option("packets", 5_000_000);
const firstSeed = option("seed", Date.now() % 0x7fffffff);
const runs = option("runs", 1);
let total = 0;
let spent = 0;
for (let r = 0; r < runs; r++) {
  const seed = firstSeed + r;
  console.log(`seed ${seed}: ${packets} packets`);
  try {
    const report = fuzzEngine({
      seed,
      packets,
      progressEvery: 1_000_000,
      progress: (n) => console.log(`  ${n} packets, every invariant held`),
    });
    total += report.packets;
    spent += report.milliseconds;
    const rate = Math.round(report.packets / report.milliseconds * 1000);
    console.log(
      `  done: ${report.packets} packets in ${(report.milliseconds / 1000).toFixed(1)} s ` +
        `(${rate} packets/s); verdicts ${JSON.stringify(report.verdicts)}; ` +
        `${report.checksumsVerified} rewrites checksum-verified, ${report.emitted} emitted`,
    );
    console.log(`  generated ${JSON.stringify(report.kinds)}`);
  } catch (e) {
    if (e instanceof FuzzFailure) {
      console.error(e.message);
      Deno.exit(1);
    }
    throw e;
  }
}
console.log(
  `${total} packets fuzzed in ${(spent / 1000).toFixed(1)} s: ` +
    `${Math.round(total / spent * 1000)} packets/s, no invariant broken`,
);
