/**
 * CPU accounting for the benchmark: what the balancer's processes spend (from
 * `/proc/PID/stat`) and what the kernel's packet path spends (softirq time from `/proc/stat`).
 *
 * The balancer's processes are taken to be every process living in the `lb` namespace (the
 * daemon, HAProxy, the pass-through loop), so no peer has to report its own pids and a
 * process that forks or starts threads is still counted whole: a process's `utime` and
 * `stime` cover all its threads. Softirq time cannot be split by namespace (every veth hop
 * runs in softirq on whichever CPU sent the packet), so it is the whole machine's, which also
 * holds the client's and the real server's receive paths; compare it between peers, not as
 * an absolute.
 *
 * @module
 */

import { netnsPids } from "../../testkit/netns.ts";
import type { CpuUse } from "./results.ts";

/** Clock ticks per second of `/proc` times (USER_HZ); 100 on every Linux build in use. */
export const USER_HZ = 100;

/** user + system ticks of one process from the text of its `/proc/PID/stat`. */
export function parseProcStatTicks(text: string): number {
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error(`not a /proc/PID/stat line: ${JSON.stringify(text)}`);
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot read utime/stime from: ${JSON.stringify(text)}`);
  }
  return utime + stime;
}

/**
 * The numbers of `/proc/stat`'s aggregate `cpu` line (user, nice, system, idle, iowait, irq,
 * softirq, ...), in ticks; throws when the line is missing or holds fewer than `need` numbers.
 */
function aggregateCpuTicks(text: string, need: number): number[] {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) throw new Error("/proc/stat has no aggregate cpu line");
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < need || v.some((x) => !Number.isFinite(x))) {
    throw new Error(`cannot read the cpu ticks from: ${line}`);
  }
  return v;
}

/** Softirq ticks of all CPUs from the text of `/proc/stat` (the `cpu` line's 7th number). */
export function parseSoftirqTicks(text: string): number {
  return aggregateCpuTicks(text, 7)[6];
}

async function processTicks(pid: number): Promise<number | undefined> {
  try {
    return parseProcStatTicks(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch {
    return undefined; // exited between listing and reading
  }
}

/** A running measurement; {@linkcode CpuMeter.stop} returns the cores used since start. */
export interface CpuMeter {
  stop(): Promise<CpuUse>;
}

/** Starts measuring the CPU of the processes in `netns` and the machine's softirq time. */
export async function startCpuMeter(netns: string): Promise<CpuMeter> {
  const before = new Map<number, number>();
  for (const pid of await netnsPids(netns)) {
    const t = await processTicks(pid);
    if (t !== undefined) before.set(pid, t);
  }
  const softBefore = parseSoftirqTicks(await Deno.readTextFile("/proc/stat"));
  const t0 = performance.now();
  return {
    async stop(): Promise<CpuUse> {
      const seconds = (performance.now() - t0) / 1000;
      let ticks = 0;
      for (const pid of await netnsPids(netns)) {
        const t = await processTicks(pid);
        // A process started meanwhile counts from zero.
        if (t !== undefined) ticks += t - (before.get(pid) ?? 0);
      }
      const soft = parseSoftirqTicks(await Deno.readTextFile("/proc/stat")) - softBefore;
      return { proc: ticks / USER_HZ / seconds, softirq: soft / USER_HZ / seconds };
    },
  };
}

/** Idle and total ticks of all CPUs from the text of `/proc/stat` (idle + iowait count as idle). */
export function parseIdleTicks(text: string): { idle: number; total: number } {
  const v = aggregateCpuTicks(text, 5);
  return { idle: v[3] + v[4], total: v.reduce((a, b) => a + b, 0) };
}

/**
 * Waits until the machine has been at least `idleShare` idle over a `windowMs` window, or
 * `timeoutMs` passed; returns the last window's idle share. Deleting a namespace that held
 * many sockets goes on in a kernel worker after `ip netns delete` returns, and would take CPU
 * from the next peer's run.
 */
export async function settle(
  opts: { idleShare?: number; windowMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const want = opts.idleShare ?? 0.9;
  const windowMs = opts.windowMs ?? 300;
  const deadline = performance.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const a = parseIdleTicks(await Deno.readTextFile("/proc/stat"));
    await new Promise((r) => setTimeout(r, windowMs));
    const b = parseIdleTicks(await Deno.readTextFile("/proc/stat"));
    const share = b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 1;
    if (share >= want || performance.now() >= deadline) return share;
  }
}
