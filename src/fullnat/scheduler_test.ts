import assert from "node:assert/strict";
import { schedule } from "./scheduler.ts";
import { RealServer, Service } from "./service.ts";

function service(scheduler: "rr" | "wrr", weights: number[]): Service {
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
  return Array.from({ length: n }, () => schedule(svc)?.address ?? "none");
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
  assert.equal(schedule(service("rr", [0, 0])), undefined);
  assert.equal(schedule(service("wrr", [0])), undefined);
  assert.equal(schedule(service("wrr", [])), undefined);
});
