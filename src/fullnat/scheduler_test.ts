/**
 * The connection schedulers rr, wrr, lc and wlc, on services built by hand (the hashing ones
 * are in scheduler_hashed_test.ts).
 */
import assert from "node:assert/strict";
import type { SchedulerName } from "../vocab/mod.ts";
import { INET } from "./family_ipv4.ts";
import { schedule } from "./scheduler.ts";
import { RealServer, Service } from "./service.ts";

const HEADER = new Uint8Array(20);

function service(scheduler: SchedulerName, weights: number[]): Service {
  const svc = new Service(
    0,
    { protocol: "tcp", address: "198.51.100.10", port: 80 },
    6,
    1,
    scheduler,
    0,
  );
  weights.forEach((w, i) =>
    svc.servers.push(new RealServer(i, svc, i + 1, `rs${i}`, 80, w, "fullnat"))
  );
  return svc;
}

function picks(svc: Service, n: number): string[] {
  return Array.from({ length: n }, () => pick(svc)?.address ?? "none");
}

function pick(svc: Service): RealServer | undefined {
  return schedule(svc, INET, HEADER, 0, 40000);
}

/** Schedules `n` connections, each opening on its server as a session does (one inactive). */
function open(svc: Service, n: number): number[] {
  const got = svc.servers.map(() => 0);
  for (let i = 0; i < n; i++) {
    const rs = pick(svc);
    if (rs === undefined) throw new Error("nothing scheduled");
    rs.inactiveConns++;
    got[svc.servers.indexOf(rs)]++;
  }
  return got;
}

Deno.test("schedule() rr cycles in order and skips quiesced servers", () => {
  assert.deepEqual(picks(service("rr", [1, 0, 5]), 4), ["rs0", "rs2", "rs0", "rs2"]);
});

Deno.test("schedule() wrr picks in proportion to weight, interleaved", () => {
  const svc = service("wrr", [3, 1, 2]);
  const got = picks(svc, 12);
  const count = (a: string) => got.filter((x) => x === a).length;
  assert.deepEqual([count("rs0"), count("rs1"), count("rs2")], [6, 2, 4]);
  assert.deepEqual(got.slice(0, 6), ["rs0", "rs0", "rs2", "rs0", "rs1", "rs2"]);
});

Deno.test("schedule() returns nothing when every weight is 0 or there are no servers", () => {
  for (const s of ["rr", "wrr", "lc", "wlc"] as const) {
    assert.equal(pick(service(s, [0, 0])), undefined, s);
    assert.equal(pick(service(s, [])), undefined, s);
  }
});

Deno.test("schedule() lc picks the least overhead (active x 256 + inactive), the first on a tie, never weight 0", () => {
  const svc = service("lc", [1, 1, 1, 0]);
  const [a, b, c, quiesced] = svc.servers;
  assert.equal(pick(svc), a, "all idle: the first");
  a.activeConns = 1; // overhead 256
  b.inactiveConns = 255; // overhead 255
  c.inactiveConns = 300; // overhead 300
  assert.equal(pick(svc), b);
  b.inactiveConns = 256; // a tie with a: the first in the list wins
  assert.equal(pick(svc), a);
  a.activeConns = b.activeConns = c.activeConns = 5;
  assert.equal(pick(svc), a, "weights do not count for lc: a has the fewest inactive");
  assert.equal(quiesced.sessions, 0);
  // Spread over fresh servers: equal counts, none on the quiesced one.
  assert.deepEqual(open(service("lc", [1, 5, 0, 2]), 300), [100, 100, 0, 100]);
});

Deno.test("schedule() wlc picks the least overhead per weight (cross-multiplied), never weight 0", () => {
  const svc = service("wlc", [1, 3, 0]);
  const [a, b] = svc.servers;
  a.inactiveConns = 10; // 10 / 1
  b.inactiveConns = 29; // 29 / 3 < 10
  assert.equal(pick(svc), b);
  b.inactiveConns = 30; // 30 / 3 = 10 / 1: the first wins the tie
  assert.equal(pick(svc), a);
  b.activeConns = 1; // (256 + 30) / 3 > 10
  assert.equal(pick(svc), a);
  // Connections opened one after another end in proportion to the weights.
  const got = open(service("wlc", [1, 2, 3, 0]), 600);
  assert.deepEqual(got, [100, 200, 300, 0]);
});
