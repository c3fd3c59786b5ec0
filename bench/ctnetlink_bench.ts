/**
 * What a conntrack offload costs through ctnetlink: entries created per second batched (one
 * `create()` of N entries, as many per datagram as fit) against one entry per `create()` (one
 * sendto + ack read each), then a mark-filtered dump of them and deletion one by one.
 *
 *   deno run -A bench/ctnetlink_bench.ts [--entries N] [--repeat N]
 *
 * Runs itself again inside a throwaway network namespace (`--inner`), always deleted, with
 * `nf_conntrack_acct=1` as the fast path sets it. Prints figures; asserts nothing. Needs root.
 *
 * @module
 */

import { Conntrack } from "../src/kernel/conntrack/conntrack.ts";
import type { OffloadEntry } from "../src/kernel/conntrack/types.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

const N = arg("--entries", 20000);
const REPEAT = arg("--repeat", 3);

function entries(run: number, n: number, mark: number): OffloadEntry[] {
  const out: OffloadEntry[] = [];
  for (let i = 0; i < n; i++) {
    // A client address per run and per 50000 entries, a port per entry: no clashes.
    const host = run * 2 + Math.floor(i / 50000);
    out.push({
      orig: {
        protocol: "tcp",
        src: `10.${100 + (host >> 8)}.${host & 255}.2`,
        dst: "198.51.100.10",
        srcPort: 10000 + (i % 50000),
        dstPort: 80,
      },
      dnat: { address: "203.0.113.11", port: 80 },
      snat: { address: `203.0.113.${201 + (run % 50)}`, port: 1024 + (i % 60000) },
      seqAdjOrig: { correctionPos: i, offsetBefore: 12345, offsetAfter: 12345 },
      tcp: { wscaleOriginal: 7, wscaleReply: 7 },
      timeout: 600,
      mark,
    });
  }
  return out;
}

function rate(n: number, ms: number): string {
  return `${Math.round(n / (ms / 1000)).toLocaleString("en")} /s`;
}

function inner(): void {
  const ct = new Conntrack();
  const rows: string[][] = [];
  let run = 0;
  for (let r = 0; r < REPEAT; r++) {
    const batch = entries(run++, N, 0x100 + run);
    let t = performance.now();
    const res = ct.create(batch);
    const batchMs = performance.now() - t;
    const okB = res.filter((x) => x.ok).length;

    const single = entries(run++, N, 0x100 + run);
    t = performance.now();
    let okS = 0;
    for (const e of single) if (ct.create([e])[0].ok) okS++;
    const singleMs = performance.now() - t;

    t = performance.now();
    const dumped = ct.dump(0x100 + run, 0xffffffff).length;
    const dumpMs = performance.now() - t;

    t = performance.now();
    let deleted = 0;
    for (const e of single) if (ct.delete(e.orig) === 0) deleted++;
    const delMs = performance.now() - t;
    for (const e of batch) ct.delete(e.orig);
    rows.push([
      `${okB}/${N} ${rate(okB, batchMs)}`,
      `${okS}/${N} ${rate(okS, singleMs)}`,
      `${dumped} ${rate(dumped, dumpMs)}`,
      `${deleted} ${rate(deleted, delMs)}`,
    ]);
  }
  console.log(`ctnetlink, ${N} TCP entries with DNAT+SNAT+seqadj per run, ${REPEAT} runs`);
  console.log(`datagrams sent: ${ct.counters.datagrams}`);
  console.log(
    ["batched create", "one per create()", "dump by mark", "delete one by one"].join(" | "),
  );
  for (const row of rows) console.log(row.join(" | "));
  ct.close();
}

async function sh(...cmd: string[]): Promise<void> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

if (Deno.args.includes("--inner")) {
  inner();
} else {
  const ns = `fnctb${Deno.pid}r${
    crypto.getRandomValues(new Uint32Array(1))[0].toString(16).slice(0, 6)
  }`;
  await sh("ip", "netns", "add", ns);
  try {
    await sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1");
    const me = new URL(import.meta.url).pathname;
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", me, "--inner", ...Deno.args],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) Deno.exitCode = 1;
  } finally {
    await sh("ip", "netns", "del", ns);
  }
}
