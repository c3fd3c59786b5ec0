/**
 * The hashing schedulers sh, dh and mh through the engine's control (so their tables are built
 * as the daemon builds them): each distribution against the weights, weight 0 never picked,
 * the same client always to the same server, the sh-fallback / mh-fallback and sh-port /
 * mh-port flags, IPv4 and IPv6 clients, and the control's refusals of flags and table sizes.
 */
import assert from "node:assert/strict";
import {
  header,
  randomClients,
  scheduled,
  schedulerBed,
  serverAddress,
  shares,
} from "../../testkit/scheduler_clients.ts";
import { ControlError } from "./types.ts";
import { hashV6 } from "./scheduler_hash.ts";

const CLIENTS = 20_000;

/** Asserts each server's share of `clients` is within `tolerance` of weight / total. */
function assertShares(
  got: Map<string, number>,
  weights: readonly number[],
  v6: boolean,
  clients: number,
  tolerance: number,
): void {
  const total = weights.reduce((a, w) => a + w, 0);
  weights.forEach((w, i) => {
    const share = (got.get(serverAddress(i, v6)) ?? 0) / clients;
    assert.ok(
      Math.abs(share - w / total) <= tolerance,
      `server ${i} (weight ${w}): share ${share.toFixed(4)}, expected ${(w / total).toFixed(4)}`,
    );
  });
}

for (const v6 of [false, true]) {
  const family = v6 ? "IPv6" : "IPv4";
  const clients = randomClients(CLIENTS, v6);

  for (const scheduler of ["sh", "mh"] as const) {
    Deno.test(`${scheduler} (${family}): shares follow the weights, the same client always gets the same server`, () => {
      const bed = schedulerBed({ scheduler, persistence: 0 }, [1, 2, 3, 2], v6);
      const got = shares(bed, clients);
      assertShares(got, [1, 2, 3, 2], v6, CLIENTS, 0.02);
      assert.equal(got.get("none"), undefined);
      // The same client again, and from another port (no port flag): the same server.
      for (const c of clients.slice(0, 500)) {
        const first = scheduled(bed, c);
        assert.equal(scheduled(bed, c), first);
        assert.equal(scheduled(bed, { header: c.header, port: c.port ^ 0x5555 }), first);
      }
    });

    Deno.test(`${scheduler} (${family}): a server of weight 0 is never picked; without fallback its clients are refused, nobody else moves`, () => {
      const bed = schedulerBed({ scheduler, persistence: 0 }, [1, 1, 1, 1], v6);
      const before = clients.map((c) => scheduled(bed, c));
      const quiesced = serverAddress(2, v6);
      bed.ctl.editRealServer(bed.key, { address: quiesced, port: 80, weight: 0 });
      const after = clients.map((c) => scheduled(bed, c));
      assert.ok(!after.includes(quiesced));
      let refused = 0;
      for (let i = 0; i < CLIENTS; i++) {
        if (before[i] === quiesced) {
          assert.equal(after[i], "none");
          refused++;
        } else if (scheduler === "mh") {
          // mh keeps a quiesced server's positions: nobody else moves.
          assert.equal(after[i], before[i]);
        }
      }
      assert.ok(refused > CLIENTS / 8, `${refused} clients were on the quiesced server`);
    });

    Deno.test(`${scheduler}-fallback (${family}): the clients of a quiesced server spread over the others, nobody else moves`, () => {
      const flag = `${scheduler}-fallback` as const;
      const bed = schedulerBed(
        { scheduler, persistence: 0, schedulerFlags: [flag] },
        [1, 1, 1, 1],
        v6,
      );
      const before = clients.map((c) => scheduled(bed, c));
      const quiesced = serverAddress(0, v6);
      bed.ctl.editRealServer(bed.key, { address: quiesced, port: 80, weight: 0 });
      const after = clients.map((c) => scheduled(bed, c));
      const moved = new Map<string, number>();
      for (let i = 0; i < CLIENTS; i++) {
        assert.notEqual(after[i], "none");
        assert.notEqual(after[i], quiesced);
        if (before[i] === quiesced) moved.set(after[i], (moved.get(after[i]) ?? 0) + 1);
        else if (scheduler === "mh") assert.equal(after[i], before[i]);
      }
      // Every remaining server takes a fair part of the moved clients (a third each, ±10%).
      const total = [...moved.values()].reduce((a, n) => a + n, 0);
      for (let i = 1; i < 4; i++) {
        const part = (moved.get(serverAddress(i, v6)) ?? 0) / total;
        assert.ok(Math.abs(part - 1 / 3) < 0.1, `server ${i} took ${part.toFixed(3)}`);
      }
      // The server returns: its clients come back.
      bed.ctl.editRealServer(bed.key, { address: quiesced, port: 80, weight: 1 });
      assert.deepEqual(clients.map((c) => scheduled(bed, c)), before);
    });

    Deno.test(`${scheduler}-port (${family}): one address from many ports spreads over the servers`, () => {
      const flag = `${scheduler}-port` as const;
      const plain = schedulerBed({ scheduler, persistence: 0 }, [1, 1, 1], v6);
      const ported = schedulerBed(
        { scheduler, persistence: 0, schedulerFlags: [flag] },
        [1, 1, 1],
        v6,
      );
      const one = clients[7];
      const ports = Array.from(
        { length: 3000 },
        (_, i) => ({ header: one.header, port: 1024 + i }),
      );
      assert.equal(shares(plain, ports).size, 1, "without the flag: one server");
      assertShares(shares(ported, ports), [1, 1, 1], v6, ports.length, 0.05);
      // The same address and port: still the same server.
      assert.equal(scheduled(ported, ports[5]), scheduled(ported, ports[5]));
    });
  }

  Deno.test(`dh (${family}): the virtual address decides; many virtual addresses follow the weights`, () => {
    const bed = schedulerBed({ scheduler: "dh", persistence: 0 }, [1, 2, 1, 0], v6);
    // All clients of one VIP: one server.
    const one = new Set(clients.slice(0, 300).map((c) => scheduled(bed, c)));
    assert.equal(one.size, 1);
    // Destinations vary (a cache cluster in front of many origins): shares follow the weights,
    // and the weight 0 server (one bucket of 256 per round of 5) is never picked.
    const byDst = clients.map((c) => {
      const n = c.header.length;
      const src = c.header.slice(v6 ? 8 : 12, v6 ? 24 : 16);
      return { header: header(new Uint8Array(n === 40 ? 16 : 4), src), port: c.port };
    });
    const got = shares(bed, byDst);
    assert.equal(got.get(serverAddress(3, v6)), undefined);
    const refused = (got.get("none") ?? 0) / CLIENTS;
    assert.ok(
      Math.abs(refused - 1 / 5) < 0.03,
      `refused ${refused}: the weight 0 server's buckets`,
    );
    const picked = CLIENTS - (got.get("none") ?? 0);
    assertShares(got, [1, 2, 1], v6, picked, 0.02);
  });
}

Deno.test("sh and mh hash all four words of an IPv6 client: addresses whose words XOR alike do not collide", () => {
  // Pairs whose words are the same words in another order: a one-word XOR fold maps each pair
  // to one key, hence one server, every time.
  const w = new Uint32Array(8);
  let same = 0;
  let differentHash = 0;
  const pairs = randomClients(200, true, 7);
  for (
    const bed of [
      schedulerBed({ scheduler: "sh", persistence: 0 }, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], true),
      schedulerBed({ scheduler: "mh", persistence: 0 }, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], true),
    ]
  ) {
    for (const c of pairs) {
      const swapped = new Uint8Array(c.header);
      swapped.set(c.header.subarray(16, 20), 12);
      swapped.set(c.header.subarray(12, 16), 16);
      const dv = new DataView(c.header.buffer);
      const sv = new DataView(swapped.buffer);
      for (let i = 0; i < 4; i++) {
        w[i] = dv.getUint32(8 + 4 * i);
        w[4 + i] = sv.getUint32(8 + 4 * i);
      }
      assert.equal(w[0] ^ w[1] ^ w[2] ^ w[3], w[4] ^ w[5] ^ w[6] ^ w[7]);
      if (hashV6(w, 0) !== hashV6(w, 4)) differentHash++;
      if (scheduled(bed, c) === scheduled(bed, { header: swapped, port: c.port })) same++;
    }
  }
  assert.equal(differentHash, 400);
  // With ten servers about one pair in ten shares a server by chance; a fold would give all.
  assert.ok(same < 80, `${same} of 400 pairs on one server`);
});

Deno.test("mh: the table size is configurable from IPVS's primes, and the default is IPVS's 4093", () => {
  const dflt = schedulerBed({ scheduler: "mh", persistence: 0 }, [1, 1]);
  assert.equal(dflt.svc.schedTable.length, 4093);
  for (const size of [251, 65521, 131071]) {
    const bed = schedulerBed({ scheduler: "mh", persistence: 0, mhTableSize: size }, [1, 2]);
    assert.equal(bed.svc.schedTable.length, size);
    assert.ok(bed.svc.schedTable.every((i) => i === 0 || i === 1));
  }
  dflt.ctl.editService(dflt.key, { mhTableSize: 509 });
  assert.equal(dflt.svc.schedTable.length, 509);
  assert.equal(dflt.ctl.listServices()[0].mhTableSize, 509);
});

Deno.test("control: scheduler flags and table sizes that do not fit are refused with the reason, changing nothing", () => {
  const bed = schedulerBed({ scheduler: "sh", persistence: 0, schedulerFlags: ["sh-port"] }, [
    1,
    1,
  ]);
  const refuses = (fn: () => void, message: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof ControlError && message.test(e.message));
  const key2 = { ...bed.key, port: 81 };
  refuses(
    () =>
      bed.ctl.addService(key2, { scheduler: "rr", persistence: 0, schedulerFlags: ["sh-port"] }),
    /^Scheduler flag sh-port belongs to sh: rr takes no scheduler flags$/,
  );
  refuses(
    () =>
      bed.ctl.addService(key2, {
        scheduler: "sh",
        persistence: 0,
        schedulerFlags: ["sh-turbo" as never],
      }),
    /^Unknown scheduler flag "sh-turbo": the flags are sh-fallback, sh-port, mh-fallback or mh-port$/,
  );
  refuses(
    () => bed.ctl.addService(key2, { scheduler: "mh", persistence: 0, mhTableSize: 256 }),
    /^Mh table size must be one of 251, 509, .* 131071 \(got 256\)$/,
  );
  refuses(
    () => bed.ctl.addService(key2, { scheduler: "sh", persistence: 0, mhTableSize: 251 }),
    /applies to the mh scheduler only/,
  );
  refuses(
    () => bed.ctl.editService(bed.key, { schedulerFlags: ["mh-port"] }),
    /^Scheduler flag mh-port belongs to mh: sh takes sh-fallback or sh-port$/,
  );
  assert.equal(bed.ctl.listServices().length, 1);
  const view = bed.ctl.listServices()[0];
  assert.deepEqual([view.scheduler, view.schedulerFlags], ["sh", ["sh-port"]]);

  // Flags stay with their scheduler: an edit of something else keeps them, a new scheduler
  // without flags has none, and given flags are listed in table order without repeats.
  bed.ctl.editService(bed.key, { persistence: 60 });
  assert.deepEqual(bed.ctl.listServices()[0].schedulerFlags, ["sh-port"]);
  bed.ctl.editService(bed.key, { scheduler: "mh" });
  assert.deepEqual(bed.ctl.listServices()[0].schedulerFlags, []);
  bed.ctl.editService(bed.key, { schedulerFlags: ["mh-port", "mh-fallback", "mh-port"] });
  assert.deepEqual(bed.ctl.listServices()[0].schedulerFlags, ["mh-fallback", "mh-port"]);
  bed.ctl.editService(bed.key, { scheduler: "wlc" });
  const last = bed.ctl.listServices()[0];
  assert.deepEqual([last.schedulerFlags, last.mhTableSize, bed.svc.schedTable.length], [
    [],
    4093,
    0,
  ]);
});

Deno.test("fallback finds the one server left available, whatever the client", () => {
  for (const scheduler of ["sh", "mh"] as const) {
    const weights = Array.from({ length: 40 }, () => 1);
    const bed = schedulerBed(
      { scheduler, persistence: 0, schedulerFlags: [`${scheduler}-fallback`] },
      weights,
    );
    for (let i = 1; i < 40; i++) {
      bed.ctl.editRealServer(bed.key, { address: serverAddress(i, false), port: 80, weight: 0 });
    }
    const got = shares(bed, randomClients(5000, false, 11));
    assert.deepEqual([...got.entries()], [[serverAddress(0, false), 5000]], scheduler);
    bed.ctl.editRealServer(bed.key, { address: serverAddress(0, false), port: 80, weight: 0 });
    assert.deepEqual([...shares(bed, randomClients(100, false)).keys()], ["none"]);
  }
});
