/** The namespace topology comes up as docs/design.md section 5 says and goes away without a trace. */

import assert from "node:assert/strict";
import { createTopology, listNetns, sweepStale } from "../../../testkit/netns.ts";
import { run } from "../../../testkit/proc.ts";

async function rootVeths(): Promise<string> {
  return (await run(["ip", "-o", "link", "show", "type", "veth"], { check: true })).stdout;
}

Deno.test("topology: reachability as designed, then destroy leaves nothing", async () => {
  const vethsBefore = await rootVeths();
  const topo = await createTopology();
  try {
    assert.match(topo.client, /^fn\d+r[0-9a-f]{6}-client$/);
    assert.deepEqual(topo.addrs.realServers, ["203.0.113.11", "203.0.113.12", "203.0.113.13"]);
    const names = await listNetns();
    for (const n of topo.names) assert.ok(names.includes(n), `${n} exists`);

    const ping = (ns: string, addr: string) => topo.exec(ns, ["ping", "-c1", "-W2", "-q", addr]);
    assert.equal((await ping("client", topo.addrs.lbA)).code, 0, "client reaches lb on A");
    assert.equal((await ping("client", topo.addrs.vips[0])).code, 0, "client reaches the VIP");
    assert.equal((await ping("rs", topo.addrs.lbB)).code, 0, "rs reaches lb on B");
    assert.equal((await ping("rs", topo.addrs.localAddrs[3])).code, 0, "rs reaches a LIP");

    // rs has no route to subnet A at all: the kernel refuses before sending anything.
    const route = await topo.exec("rs", ["ip", "route", "get", topo.addrs.client]);
    assert.notEqual(route.code, 0);
    assert.match(route.stderr, /unreachable/i);
    assert.notEqual((await ping("rs", topo.addrs.client)).code, 0, "rs cannot reach client");
    assert.notEqual((await ping("rs", topo.addrs.lbA)).code, 0, "rs cannot reach subnet A");

    const fwd = await topo.exec("lb", ["sysctl", "-n", "net.ipv4.ip_forward"], { check: true });
    assert.equal(fwd.stdout.trim(), "0", "lb forwarding is left to the daemon");

    const lbAddrs = (await topo.exec("lb", ["ip", "-4", "-o", "addr", "show"])).stdout;
    for (const a of [...topo.addrs.vips, ...topo.addrs.localAddrs]) {
      assert.ok(lbAddrs.includes(` ${a}/32 `), `${a} on lb`);
    }
    assert.throws(() => topo.ns("some-other-netns"), /not a namespace of topology/);
  } finally {
    await topo.destroy();
  }
  const after = await listNetns();
  for (const n of topo.names) assert.ok(!after.includes(n), `${n} deleted`);
  assert.equal(await rootVeths(), vethsBefore, "no veth left in the host namespace");
  await topo.destroy(); // a second call is harmless
});

Deno.test("topology: destroy kills processes still running inside", async () => {
  const topo = await createTopology();
  let child: Deno.ChildProcess | undefined;
  try {
    child = topo.spawn("rs", ["sleep", "300"]);
  } finally {
    await topo.destroy();
  }
  const status = await child!.status;
  assert.equal(status.success, false);
});

Deno.test("topology: options for VIPs, local addresses, real servers and NAT routing", async () => {
  const topo = await createTopology({
    vips: ["198.51.100.10", "198.51.100.11"],
    localAddrs: ["203.0.113.201"],
    rsCount: 2,
    rsDefaultViaLb: true,
    lbForwarding: true,
  });
  try {
    assert.deepEqual(topo.addrs.realServers, ["203.0.113.11", "203.0.113.12"]);
    const res = await topo.exec("client", ["ping", "-c1", "-W2", "-q", "198.51.100.11"]);
    assert.equal(res.code, 0);
    // With forwarding on and a default route back, plain routing joins the two subnets.
    const routed = await topo.exec("client", ["ping", "-c1", "-W2", "-q", "203.0.113.12"]);
    assert.equal(routed.code, 0, routed.stdout + routed.stderr);
  } finally {
    await topo.destroy();
  }
});

Deno.test("topology: two topologies live side by side", async () => {
  const a = await createTopology();
  try {
    const b = await createTopology();
    try {
      assert.notEqual(a.id, b.id);
      assert.equal((await b.exec("client", ["ping", "-c1", "-W2", "-q", b.addrs.lbA])).code, 0);
      assert.equal((await a.exec("client", ["ping", "-c1", "-W2", "-q", a.addrs.lbA])).code, 0);
    } finally {
      await b.destroy();
    }
  } finally {
    await a.destroy();
  }
});

Deno.test("sweepStale: removes only dead runs' namespaces under its prefix", async () => {
  const prefix = "fnsweeptest";
  // A pid that surely belonged to a process that has exited.
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const dead = `${prefix}${gone.pid}rabcdef-lb`;
  const live = `${prefix}${Deno.pid}rabcdef-lb`;
  const foreign = `${prefix}-not-ours`;
  try {
    for (const n of [dead, live, foreign]) await run(["ip", "netns", "add", n], { check: true });
    const removed = await sweepStale(prefix);
    assert.deepEqual(removed, [dead]);
    const names = await listNetns();
    assert.ok(!names.includes(dead));
    assert.ok(names.includes(live));
    assert.ok(names.includes(foreign));
  } finally {
    for (const n of [dead, live, foreign]) await run(["ip", "netns", "del", n]);
  }
  await assert.rejects(() => sweepStale("bad prefix;"), /bad namespace prefix/);
});
