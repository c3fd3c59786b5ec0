/**
 * The daemon's rate estimator against a fake clock: IPVS's 2 s samples folded into a moving
 * average with weight 1/4, reported with IPVS's rounding, restarted by zeroed counters.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { RateEstimator, startRateSampler, withRates } from "../../../src/daemon/rates.ts";
import {
  DEFAULT_TCP_TWEAKS,
  type Rates,
  type ServiceView,
  type Stats,
} from "../../../src/fullnat/types.ts";
import { MemoryTarget } from "../ctl/fake_control.ts";

const stats = (conns: number, inPackets = 0, outPackets = 0, inBytes = 0, outBytes = 0): Stats => ({
  conns,
  inPackets,
  outPackets,
  inBytes,
  outBytes,
});

/** One service on port `port` with one real server, both with `s` as their counters. */
const listing = (s: Stats, port = 80): ServiceView[] => [{
  protocol: "tcp",
  address: "10.0.0.100",
  port,
  scheduler: "rr",
  persistence: 0,
  ...DEFAULT_TCP_TWEAKS,
  stats: s,
  realServers: [{
    address: "192.168.1.2",
    port: 80,
    weight: 1,
    method: "fullnat",
    activeConns: 0,
    inactiveConns: 0,
    stats: s,
  }],
  localAddresses: [],
}];

const rateOf = (e: RateEstimator, s: Stats, port = 80): Rates =>
  e.annotate(listing(s, port))[0].rate!;

Deno.test("each 2 s sample moves the average a quarter of the way; x.5 rounds down as IPVS", () => {
  const e = new RateEstimator();
  e.sample(listing(stats(0)), 0);
  // 100 connections, 1000 packets in, 800 out, 1,000,000 bytes in, 64,000 out in 2 s.
  let s = stats(100, 1000, 800, 1_000_000, 64_000);
  e.sample(listing(s), 2000);
  // Per second: 50, 500, 400, 500,000, 32,000; a quarter of each: 12.5, 125, 100, 125000, 8000.
  deepStrictEqual(rateOf(e, s), { cps: 12, inPps: 125, outPps: 100, inBps: 125000, outBps: 8000 });
  s = stats(200, 2000, 1600, 2_000_000, 128_000);
  e.sample(listing(s), 4000);
  // 12.5 + (50 - 12.5) / 4 = 21.875 connections per second, and so on.
  deepStrictEqual(rateOf(e, s), {
    cps: 22,
    inPps: 219,
    outPps: 175,
    inBps: 218750,
    outBps: 14000,
  });
  // The real server has its own estimate, here from the same counters.
  deepStrictEqual(e.annotate(listing(s))[0].realServers[0].rate, rateOf(e, s));
});

Deno.test("a steady rate is reached; when traffic stops the rate decays by 3/4 per sample", () => {
  const e = new RateEstimator();
  let conns = 0;
  for (let t = 0; t <= 80_000; t += 2000, conns += 100) e.sample(listing(stats(conns)), t);
  strictEqual(rateOf(e, stats(conns)).cps, 50);
  const last = conns - 100;
  e.sample(listing(stats(last)), 82_000);
  // 50 * 3/4 = 37.5, then 28.125.
  strictEqual(rateOf(e, stats(last)).cps, 37);
  e.sample(listing(stats(last)), 84_000);
  strictEqual(rateOf(e, stats(last)).cps, 28);
});

Deno.test("the time between samples is measured, not assumed to be 2 s", () => {
  const e = new RateEstimator();
  e.sample(listing(stats(0)), 0);
  // A late sample (a busy main thread): 200 connections over 4 s is 50/s, not 100/s.
  e.sample(listing(stats(200)), 4000);
  strictEqual(rateOf(e, stats(200)).cps, 12);
  // A sample at the same instant changes nothing.
  e.sample(listing(stats(400)), 4000);
  strictEqual(rateOf(e, stats(400)).cps, 12);
});

Deno.test("zeroed counters restart the estimate; a deleted service starts afresh when re-added", () => {
  const e = new RateEstimator();
  e.sample(listing(stats(0)), 0);
  e.sample(listing(stats(1000)), 2000);
  strictEqual(rateOf(e, stats(1000)).cps, 125);
  // ipvsadm -Z: counters back to 0. Not a negative rate: a fresh start at 0.
  e.sample(listing(stats(0)), 4000);
  strictEqual(rateOf(e, stats(0)).cps, 0);
  e.sample(listing(stats(40)), 6000);
  strictEqual(rateOf(e, stats(40)).cps, 5);
  // The service goes (a listing without it), then a service on the same key comes back with
  // counters that have nothing to do with the old ones.
  e.sample([], 8000);
  e.sample(listing(stats(7)), 10000);
  strictEqual(rateOf(e, stats(7)).cps, 0);
  // Never sampled at all: 0.
  strictEqual(rateOf(e, stats(0), 443).cps, 0);
});

Deno.test("withRates adds rates to the listing; the sampler samples until stopped", async () => {
  const memory = new MemoryTarget();
  memory.addService({ protocol: "tcp", address: "10.0.0.100", port: 80 }, {
    scheduler: "rr",
    persistence: 0,
  });
  const e = new RateEstimator();
  const served = withRates(localRemote(memory), e);
  const [svc] = await served.listServices();
  deepStrictEqual(svc.rate, { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 });
  strictEqual(memory.services[0].rate, undefined, "the target's own views are not touched");

  let calls = 0;
  const counted = {
    ...localRemote(memory),
    listServices: () => {
      calls++;
      return Promise.resolve(memory.listServices());
    },
  };
  let now = 0;
  const sampler = startRateSampler(counted, { log: () => {}, intervalMs: 5, clock: () => now });
  memory.services[0].stats.conns = 0;
  await new Promise((r) => setTimeout(r, 40));
  ok(calls >= 2, `sampled ${calls} times`);
  memory.services[0].stats.conns = 80;
  now = 2000;
  await new Promise((r) => setTimeout(r, 20));
  strictEqual((await sampler.target.listServices())[0].rate?.cps, 10);
  sampler.stop();
  const after = calls;
  await new Promise((r) => setTimeout(r, 30));
  strictEqual(calls, after, "no sample after stop()");
});
