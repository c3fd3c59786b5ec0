/**
 * Smoke test of the side-by-side benchmark (bench/peers): one very short workload against
 * direct routing and fullnat FULLNAT, through the same code path as `bench/peers/run.ts`, so
 * CI notices when the harness rots (a changed daemon flag, ipvsadm syntax, topology helper or
 * tool output). It checks that figures come out and that everything is cleaned up; it never
 * judges speed.
 */
import assert from "node:assert/strict";
import { BENCH_PREFIX, runBenchmark } from "./bench.ts";
import { allPeers } from "./peers.ts";
import { figuresTable, type Row } from "./report.ts";
import { listNetns } from "../../testkit/netns.ts";

Deno.test("runBenchmark() measures direct routing and FULLNAT on a short UDP and connection load", async () => {
  const peers = allPeers({ workers: false }).filter((p) => p.id === "direct" || p.id === "fullnat");
  assert.deepStrictEqual(peers.map((p) => p.id), ["direct", "fullnat"]);
  const mine = (names: string[]) =>
    names.filter((n) => n.startsWith(`${BENCH_PREFIX}${Deno.pid}r`));
  const result = await runBenchmark({
    peers,
    runs: 1,
    params: {
      seconds: 1,
      connections: 4,
      threads: 1,
      udpPayload: 64,
      bursts: 1,
      // Enough that the drain lasts several of the kernel's 10 ms CPU ticks: with 2 x 2000
      // datagrams it took about 10 ms and the balancer's CPU sometimes read 0 ticks.
      burstPerSender: 20_000,
    },
    workloads: ["conns", "udp", "burst"],
  });
  for (const p of peers) {
    const [s] = result.samples.get(p.id)!;
    assert.deepStrictEqual(s.errors, [], `${p.id} failed`);
    assert.ok(s.cps !== undefined && s.cps > 0, `${p.id}: no connections/s`);
    assert.ok(s.p99Ms !== undefined && s.p99Ms > 0, `${p.id}: no p99`);
    assert.ok(s.kpps !== undefined && s.kpps > 0, `${p.id}: no UDP datagram arrived`);
    assert.strictEqual(s.gbps, undefined, "bulk was not asked for");
    assert.strictEqual(s.gbpsDown, undefined, "download was not asked for");
    assert.ok(s.cpu.conns !== undefined && s.cpu.udp !== undefined);
  }
  // Only the balancer with a queue can hold a burst; all of it must have been drained.
  assert.deepStrictEqual(result.samples.get("direct")![0].unsupported, ["burst"]);
  const burst = result.samples.get("fullnat")![0];
  assert.ok(burst.burstKpps !== undefined && burst.burstKpps > 0, "no burst drained");
  assert.ok(burst.cpu.burst !== undefined && burst.cpu.burst.proc > 0);
  // The daemon is a process in lb; the kernel's forwarding is not.
  assert.strictEqual(result.samples.get("direct")![0].cpu.conns!.proc, 0);
  assert.ok(result.samples.get("fullnat")![0].cpu.conns!.proc > 0);
  const rows: Row[] = peers.map((p) => ({
    id: p.id,
    label: p.label,
    summary: result.summaries.get(p.id)!,
  }));
  assert.match(
    figuresTable(rows)[3],
    // Bulk and download were not asked for: a dash each.
    /^\| fullnat FULLNAT \(-b\) \| – \| – \| \d+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$/,
  );
  assert.deepStrictEqual(mine(await listNetns()), [], "namespaces left behind");
});
