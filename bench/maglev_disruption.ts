/**
 * How many clients move when one of N real servers leaves, and when it returns: mh (Maglev)
 * against sh (the 256-bucket table), for N of 3, 5, 10 and 20 and 100,000 clients, beside the
 * ideal 1/N (only the clients of the server that left move). Servers are deleted and re-added
 * through the engine's control, so the tables are the ones the daemon builds.
 *
 *   deno run -A bench/maglev_disruption.ts [--clients N] [--table SIZE] [--v6]
 *
 * @module
 */
import {
  movedShare,
  randomClients,
  scheduled,
  schedulerBed,
  serverAddress,
} from "../testkit/scheduler_clients.ts";
import { DEFAULT_MH_TABLE_SIZE, type SchedulerName } from "../src/vocab/mod.ts";

/** The share of clients that move when server `leaving` of `n` leaves, then returns. */
export function disruption(
  scheduler: SchedulerName,
  n: number,
  clients: number,
  options: { v6?: boolean; mhTableSize?: number; leaving?: number } = {},
): { leave: number; back: number } {
  const v6 = options.v6 ?? false;
  const leaving = options.leaving ?? Math.floor(n / 2);
  const bed = schedulerBed(
    {
      scheduler,
      persistence: 0,
      ...(options.mhTableSize !== undefined && { mhTableSize: options.mhTableSize }),
    },
    Array.from({ length: n }, () => 1),
    v6,
  );
  const all = randomClients(clients, v6);
  const before = all.map((c) => scheduled(bed, c));
  const server = { address: serverAddress(leaving, v6), port: 80 };
  bed.ctl.deleteRealServer(bed.key, server);
  const gone = all.map((c) => scheduled(bed, c));
  bed.ctl.addRealServer(bed.key, { ...server, weight: 1, method: "fullnat" });
  const back = all.map((c) => scheduled(bed, c));
  return { leave: movedShare(before, gone), back: movedShare(gone, back) };
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const clients = arg("--clients") ?? 100_000;
  const table = arg("--table") ?? DEFAULT_MH_TABLE_SIZE;
  const v6 = Deno.args.includes("--v6");
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`.padStart(9);
  console.log(
    `clients that move when 1 of N servers leaves / returns (${clients} ${
      v6 ? "IPv6" : "IPv4"
    } clients, mh table ${table})`,
  );
  console.log(
    `${"N".padStart(3)}${"ideal 1/N".padStart(11)}${"mh leave".padStart(10)}` +
      `${"mh back".padStart(10)}${"mh/ideal".padStart(10)}${"sh leave".padStart(10)}` +
      `${"sh back".padStart(10)}`,
  );
  for (const n of [3, 5, 10, 20]) {
    const mh = disruption("mh", n, clients, { v6, mhTableSize: table });
    const sh = disruption("sh", n, clients, { v6 });
    console.log(
      `${String(n).padStart(3)}${pct(1 / n).padStart(11)}${pct(mh.leave).padStart(10)}` +
        `${pct(mh.back).padStart(10)}${(mh.leave * n).toFixed(2).padStart(10)}` +
        `${pct(sh.leave).padStart(10)}${pct(sh.back).padStart(10)}`,
    );
  }
}
