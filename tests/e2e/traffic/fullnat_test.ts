/**
 * End to end: the real daemon in the `lb` namespace, configured with the real `fullnat
 * ipvsadm`, real HTTP from `client` to nginx in `rs`, where `rs` has no route to the client's
 * subnet (FULLNAT) or routes through the balancer (NAT).
 */
import assert from "node:assert/strict";
import { createTopology } from "../../../testkit/netns.ts";
import { curl, startNginx, waitFor } from "../../../testkit/servers.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { fullnatService, withBed } from "../../../testkit/bed.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";

Deno.test("e2e FULLNAT: HTTP through the VIP reaches every RS, which sees only local addresses", async () => {
  await withBed({}, async (bed) => {
    const lips = bed.topo.addrs.localAddrs.slice(0, 2);
    await fullnatService(bed, lips);
    // Without the balancer the RS cannot answer the client at all: its subnet is unreachable.
    const direct = await bed.topo.exec("rs", ["ip", "route", "get", bed.topo.addrs.client]);
    assert.notEqual(direct.code, 0, "rs must have no route to the client subnet");

    const servers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await curl(bed.topo.client, `http://${bed.vip}/`);
      assert.equal(r.status, 200, r.stderr);
      const m = /^server (\S+):80 peer (\S+):(\d+)/.exec(r.body);
      assert.ok(m, r.body);
      servers.add(m[1]);
      assert.ok(lips.includes(m[2]), `RS saw ${m[2]}, not a local address`);
    }
    assert.deepEqual(
      [...servers].sort(),
      [...bed.topo.addrs.realServers].sort(),
      "rr over all RSes",
    );
    const log = await bed.nginx.accessLog();
    assert.equal(log.length, 6);
    assert.ok(
      log.every((e) => lips.includes(e.remoteAddr)),
      "access log shows local addresses only",
    );

    const conns = await bed.lb.ipvsadmOk("-L", "-n", "-c");
    const lines = conns.trim().split("\n");
    assert.equal(lines[0], "IPVS connection entries");
    assert.match(lines[1], /^pro expire state\s+source\s+virtual\s+local\s+destination$/);
    const rows = lines.slice(2).map((l) => l.trim().split(/\s+/));
    assert.equal(rows.length, 6);
    for (const [pro, , , source, virt, local, dest] of rows) {
      assert.equal(pro, "TCP");
      assert.equal(source.split(":")[0], bed.topo.addrs.client);
      assert.equal(virt, `${bed.vip}:80`);
      assert.ok(lips.includes(local.split(":")[0]), local);
      assert.ok(bed.topo.addrs.realServers.includes(dest.split(":")[0]), dest);
    }
  });
});

Deno.test("e2e FULLNAT: 1000 sequential and 100 parallel connections succeed, then their sessions expire", async () => {
  await withBed({}, async (bed) => {
    await fullnatService(bed, bed.topo.addrs.localAddrs.slice(0, 2));
    const url = `http://${bed.vip}/`;
    // One curl, many URLs, "Connection: close": every request is a new TCP connection.
    const sequential = await bed.topo.exec(
      "client",
      newConnectionsCommand(url, 1000, { maxTimeSec: 120 }),
    );
    const seqCodes = sequential.stdout.trim().split("\n");
    assert.equal(seqCodes.length, 1000);
    assert.equal(seqCodes.filter((c) => c === "200").length, 1000, "all sequential requests 200");

    const parallel = await bed.topo.exec(
      "client",
      newConnectionsCommand(url, 100, { parallel: 100, maxTimeSec: 60 }),
    );
    const parCodes = parallel.stdout.trim().split("\n");
    assert.equal(parCodes.filter((c) => c === "200").length, 100, "all parallel requests 200");

    const log = await bed.nginx.accessLog();
    assert.equal(log.length, 1100);
    assert.equal(
      new Set(log.map((e) => `${e.remoteAddr}:${e.remotePort}`)).size,
      1100,
      "1100 distinct connections",
    );
    const status = await bed.lb.status();
    assert.equal(status.engine.sessionsCreated, 1100);
    assert.equal(status.queue.handlerErrors, 0);
    assert.equal(status.engine.tcpNoSession, 0);

    // Closed sessions linger in TIME_WAIT (7 s by default), then the expiry scan removes them.
    await waitFor(async () => (await bed.lb.status()).sessions === 0, {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    const after = await bed.lb.status();
    assert.equal(after.engine.sessionsExpired, 1100);
    const listed = await bed.lb.ipvsadmOk("-L", "-n", "-c");
    assert.equal(listed.trim().split("\n").length, 2, "only the two header lines remain");
  });
});

Deno.test("e2e FULLNAT: deleting the last local address refuses new connections and lets established ones finish", async () => {
  await withBed({ bulkBytes: 4 << 20 }, async (bed) => {
    const lip = bed.topo.addrs.localAddrs[0];
    await fullnatService(bed, [lip]);
    const bulk = `http://${bed.vip}${bed.nginx.bulkPath}`;
    // A slow download, in flight while the address goes away.
    const inFlight = bed.topo.exec("client", [
      "sh",
      "-c",
      `curl -s --limit-rate 1M --max-time 30 ${bulk} | sha256sum`,
    ]);
    await waitFor(async () => (await bed.lb.status()).sessions === 1, { timeoutMs: 5000 });
    await bed.lb.ipvsadmOk("-Q", "-t", `${bed.vip}:80`, "-z", lip);
    assert.doesNotMatch(await bed.lb.ipvsadmOk("-G"), new RegExp(lip.replaceAll(".", "\\.")));

    const refused = await curl(bed.topo.client, `http://${bed.vip}/`, { connectTimeoutSec: 3 });
    assert.equal(
      refused.code,
      7,
      `expected "connection refused", got ${refused.code} ${refused.stderr}`,
    );
    assert.ok(refused.timeSec < 1, `refused at once (${refused.timeSec}s)`);

    const done = await inFlight;
    assert.equal(done.code, 0);
    assert.equal(
      done.stdout.split(" ")[0],
      bed.nginx.bulkSha256,
      "the established download completed intact",
    );
    const status = await bed.lb.status();
    assert.equal(status.engine.noLocalAddress, 1);
    assert.equal(status.engine.resetsSent, 1);
    // The address leaves the diversion once its last session has expired.
    await waitFor(async () => (await bed.lb.status()).diversion.localAddresses.length === 0, {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
  });
});

Deno.test("e2e FULLNAT: deleting a service refuses new connections and lets established ones finish", async () => {
  await withBed({ bulkBytes: 4 << 20 }, async (bed) => {
    await fullnatService(bed, [bed.topo.addrs.localAddrs[0]]);
    const bulk = `http://${bed.vip}${bed.nginx.bulkPath}`;
    const inFlight = bed.topo.exec("client", [
      "sh",
      "-c",
      `curl -s --limit-rate 1M --max-time 30 ${bulk} | sha256sum`,
    ]);
    await waitFor(async () => (await bed.lb.status()).sessions === 1, { timeoutMs: 5000 });
    await bed.lb.ipvsadmOk("-D", "-t", `${bed.vip}:80`);
    assert.doesNotMatch(await bed.lb.ipvsadmOk("-L", "-n"), /TCP\s+198\.51\.100\.10:80/);

    // No service: the balancer's own stack owns the VIP and refuses the port.
    const refused = await curl(bed.topo.client, `http://${bed.vip}/`, { connectTimeoutSec: 3 });
    assert.equal(refused.code, 7, `expected "connection refused", got ${refused.code}`);

    const done = await inFlight;
    assert.equal(done.code, 0);
    assert.equal(done.stdout.split(" ")[0], bed.nginx.bulkSha256, "the download completed intact");
    // The service's traffic leaves the diversion once its last session has expired.
    await waitFor(async () => (await bed.lb.status()).diversion.services.length === 0, {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
  });
});

Deno.test("e2e NAT mode: only the destination is translated; the RS sees the client", async () => {
  await withBed({ nat: true }, async (bed) => {
    const svc = `${bed.vip}:80`;
    await bed.lb.ipvsadmOk("-A", "-t", svc, "-s", "wrr");
    await bed.lb.ipvsadmOk(
      "-a",
      "-t",
      svc,
      "-r",
      `${bed.topo.addrs.realServers[0]}:80`,
      "-m",
      "-w",
      "2",
    );
    await bed.lb.ipvsadmOk(
      "-a",
      "-t",
      svc,
      "-r",
      `${bed.topo.addrs.realServers[1]}:80`,
      "-m",
      "-w",
      "1",
    );
    const hits = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const r = await curl(bed.topo.client, `http://${bed.vip}/`);
      assert.equal(r.status, 200, r.stderr);
      const m = /^server (\S+):80 peer (\S+):/.exec(r.body)!;
      assert.equal(m[2], bed.topo.addrs.client, "NAT keeps the client address");
      hits.set(m[1], (hits.get(m[1]) ?? 0) + 1);
    }
    assert.deepEqual(
      [hits.get(bed.topo.addrs.realServers[0]), hits.get(bed.topo.addrs.realServers[1])],
      [4, 2],
      "wrr 2:1",
    );
    assert.match(await bed.lb.ipvsadmOk("-L", "-n"), /-> 203\.0\.113\.11:80\s+Masq\s+2/);
  });
});

Deno.test("e2e: traffic that matches no service passes through untouched", async () => {
  await withBed({}, async (bed) => {
    const lip = bed.topo.addrs.localAddrs[0];
    await fullnatService(bed, [lip]);
    // A server on the balancer itself, on a local address: diverted (local addresses are),
    // matched by no session, so accepted unchanged and answered by lb's own stack.
    const own = await startNginx({ netns: bed.topo.lb, addrs: [lip], port: 8081 });
    try {
      const r = await curl(bed.topo.rs, `http://${lip}:8081/`);
      assert.equal(r.status, 200, r.stderr);
      assert.match(
        r.body,
        new RegExp(`peer ${bed.topo.addrs.realServers[0].replaceAll(".", "\\.")}:`),
      );
    } finally {
      await own.stop();
    }
    const status = await bed.lb.status();
    assert.ok(status.engine.passedThrough >= 3, `passedThrough ${status.engine.passedThrough}`);
    assert.equal(status.engine.sessionsCreated, 0);
  });
});

Deno.test("e2e ipvsadm: refused commands say why and change nothing; stopping removes the chains", async () => {
  const topo = await createTopology({});
  let lb: Balancer | undefined;
  try {
    const before = (await topo.exec("lb", ["iptables", "-t", "raw", "-S"])).stdout;
    lb = await startBalancer(topo);
    const vip = topo.addrs.vips[0];
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr");
    const listing = await lb.ipvsadmOk("-L", "-n");

    const dup = await lb.ipvsadm("-A", "-t", `${vip}:80`, "-s", "rr");
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /Service already exists/);
    const noSvc = await lb.ipvsadm("-a", "-t", `${vip}:81`, "-r", "203.0.113.11:80", "-b");
    assert.match(noSvc.stderr, /Service not defined/); // ipvsadm's own words
    const badSched = await lb.ipvsadm("-A", "-t", `${vip}:82`, "-s", "nosuch");
    assert.notEqual(badSched.code, 0);
    const fwmark = await lb.ipvsadm("-A", "-f", "1", "-s", "rr");
    assert.notEqual(fwmark.code, 0);
    assert.match(fwmark.stderr, /fwmark-service.*not supported by fullnat/);
    assert.equal(await lb.ipvsadmOk("-L", "-n"), listing, "nothing changed");

    const chains = (await topo.exec("lb", ["iptables", "-t", "raw", "-S"])).stdout;
    assert.match(chains, /-d 198\.51\.100\.10\/32 -p tcp -m tcp --dport 80/);
    assert.equal(await lb.stop(), 0);
    lb = undefined;
    assert.equal(
      (await topo.exec("lb", ["iptables", "-t", "raw", "-S"])).stdout,
      before,
      "chains removed",
    );
  } finally {
    await lb?.stop();
    await topo.destroy();
  }
});
