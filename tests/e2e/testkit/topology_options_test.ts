/**
 * The topology's IPv6 plan and its router with a smaller MTU come up as the module doc says and
 * go away without a trace.
 */

import assert from "node:assert/strict";
import { ADDRESS_PLAN } from "../../../testkit/address_plan.ts";
import { createTopology, listNetns } from "../../../testkit/netns.ts";
import { run } from "../../../testkit/proc.ts";

/** A prefix of this file's own, so runs of other test files never show up in its checks. */
const PREFIX = "fntopt";

/** Namespaces this process made under {@linkcode PREFIX}. */
async function ours(): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(`${PREFIX}${Deno.pid}r`));
}

async function rootVeths(): Promise<string> {
  return (await run(["ip", "-o", "link", "show", "type", "veth"], { check: true })).stdout;
}

Deno.test("createTopology({ ipv6 }): the IPv6 plan is reachable as designed, rs has no route to the client", async () => {
  const topo = await createTopology({ prefix: PREFIX, ipv6: true });
  try {
    const v6 = topo.addrs.v6!;
    assert.deepEqual(v6.realServers, ["2001:db8:b::11", "2001:db8:b::12", "2001:db8:b::13"]);
    assert.deepEqual(v6.vips, [...ADDRESS_PLAN.v6.vips]);
    assert.equal(topo.router, undefined);
    const ping = (ns: string, addr: string) => topo.exec(ns, ["ping", "-c1", "-W2", "-q", addr]);
    assert.equal((await ping("client", v6.vips[0])).code, 0, "client reaches the IPv6 VIP");
    assert.equal((await ping("rs", v6.localAddrs[3])).code, 0, "rs reaches an IPv6 LIP");
    assert.equal((await ping("rs", v6.lbB)).code, 0, "rs reaches lb on B");
    assert.equal((await ping("client", topo.addrs.vips[0])).code, 0, "IPv4 still there");

    const route = await topo.exec("rs", ["ip", "-6", "route", "get", v6.client]);
    assert.notEqual(route.code, 0, `rs must have no IPv6 route to the client: ${route.stdout}`);
    assert.notEqual((await ping("rs", v6.client)).code, 0, "rs cannot reach the client");

    // nodad: nothing is left tentative, so tests never wait for DAD.
    for (const role of ["client", "lb", "rs"] as const) {
      const addrs = (await topo.exec(role, ["ip", "-6", "-o", "addr", "show"])).stdout;
      assert.doesNotMatch(addrs, /tentative/, `${role}: ${addrs}`);
    }
    const lbAddrs = (await topo.exec("lb", ["ip", "-6", "-o", "addr", "show"])).stdout;
    for (const a of [...v6.vips, ...v6.localAddrs]) {
      assert.ok(lbAddrs.includes(` ${a}/128 `), `${a} on lb`);
    }
    const fwd = await topo.exec("lb", ["sysctl", "-n", "net.ipv6.conf.all.forwarding"]);
    assert.equal(fwd.stdout.trim(), "0", "lb IPv6 forwarding is left to the daemon");
  } finally {
    await topo.destroy();
  }
  assert.deepEqual(await ours(), [], "every namespace deleted");
});

Deno.test("createTopology({ router }): big DF packets get 'fragmentation needed' / 'packet too big' from the router, both ways", async () => {
  const vethsBefore = await rootVeths();
  const topo = await createTopology({ prefix: PREFIX, ipv6: true, router: { mtu: 1280 } });
  try {
    assert.equal(topo.names.length, 4);
    assert.ok(topo.router !== undefined && topo.names.includes(topo.router));
    const { router } = topo.addrs;
    assert.ok(router);
    const v6 = topo.addrs.v6!;
    const ping = (ns: string, args: string[]) => topo.exec(ns, ["ping", "-c1", "-W2", ...args]);
    // Small packets cross the router; every plan address stays where it was.
    assert.equal((await ping("lb", ["-q", topo.addrs.realServers[2]])).code, 0);
    assert.equal((await ping("rs", ["-q", topo.addrs.localAddrs[0]])).code, 0);
    assert.equal((await ping("rs", ["-q", v6.localAddrs[1]])).code, 0);
    assert.equal((await ping("lb", ["-q", v6.realServers[0]])).code, 0);
    assert.notEqual((await ping("rs", ["-q", topo.addrs.client])).code, 0, "still no route back");

    // Interfaces keep 1500 (so the RS announces a full MSS); only the router's path is small.
    const mtu = await topo.exec("rs", ["cat", `/sys/class/net/${topo.ifaces.rs}/mtu`]);
    assert.equal(mtu.stdout.trim(), "1500");

    const big4 = await ping("lb", ["-M", "do", "-s", "1400", topo.addrs.realServers[0]]);
    assert.match(big4.stdout, new RegExp(`From ${router.lbSide}.*Frag needed.*mtu = 1280`));
    const back4 = await ping("rs", ["-M", "do", "-s", "1400", topo.addrs.localAddrs[0]]);
    assert.match(back4.stdout, new RegExp(`From ${router.rsSide}.*Frag needed.*mtu = 1280`));
    const big6 = await ping("lb", ["-M", "do", "-s", "1400", v6.realServers[0]]);
    assert.match(big6.stdout, /Packet too big: mtu=1280/);
    const cached = await topo.exec("lb", ["ip", "-6", "route", "get", v6.realServers[0]]);
    assert.match(cached.stdout, /mtu 1280/, "lb learned the path MTU");
    // Up to the MTU still passes.
    assert.equal((await ping("lb", ["-M", "do", "-s", "1252", topo.addrs.realServers[1]])).code, 0);
  } finally {
    await topo.destroy();
  }
  assert.deepEqual(await ours(), [], "every namespace deleted");
  assert.equal(await rootVeths(), vethsBefore, "no veth left in the host namespace");
});

Deno.test("createTopology({ router }): an MTU outside 1280..1500 is refused before anything is made", async () => {
  for (const mtu of [1000, 1501, 1400.5]) {
    await assert.rejects(
      () => createTopology({ prefix: PREFIX, router: { mtu } }),
      /router MTU must be a whole number from 1280/,
    );
  }
  assert.deepEqual(await ours(), []);
});

Deno.test("createTopology(): a failure half way through deletes the namespaces already made", async () => {
  // A bad real-server count is caught before any namespace exists; a bad local address only
  // when `ip` refuses it, with all four namespaces made: both must leave nothing behind.
  await assert.rejects(
    () => createTopology({ prefix: PREFIX, ipv6: true, rsCount: 500 }),
    /out of range/,
  );
  await assert.rejects(
    () => createTopology({ prefix: PREFIX, router: { mtu: 1300 }, localAddrs: ["203.0.113.999"] }),
    /command failed/,
  );
  assert.deepEqual(await ours(), []);
});
