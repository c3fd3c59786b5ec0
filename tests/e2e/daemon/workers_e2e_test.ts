/**
 * End to end with two packet workers: the real daemon (`--workers 2`) in the `lb` namespace,
 * FULLNAT and NAT services, then DR and TUNNEL ones, clients on two addresses (one per
 * worker), real curl and nginx.
 * Every connection must succeed, both workers must carry sessions, and no packet may land on
 * a worker that does not own its session (it would be counted as tcpNoSession or
 * passedThrough there).
 */
import assert from "node:assert/strict";
import { workerOfAddress } from "../../../src/kernel/diversion_rules.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { type NginxServer, startNginx, waitFor } from "../../../testkit/servers.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";
import { setupTunnelRs } from "../../../testkit/tunnel_rs.ts";
import { RETURN_IFACE, RETURN_PLAN } from "../../../testkit/direct_return.ts";

const PER_CLIENT = 110;

interface WorkerJson {
  index: number;
  localPorts: [number, number];
  sessions: number;
  engine: Record<string, number>;
  queue: Record<string, number>;
  emitter: { sent: number; sendErrors: number };
}

/** The client's address and a second one on its interface: one client per worker of two. */
async function clientPerWorker(topo: Topology): Promise<string[]> {
  const clients = [topo.addrs.client, "198.51.100.3"];
  assert.deepEqual(clients.map((c) => workerOfAddress(c, 2)), [0, 1], "one client per worker");
  await topo.exec("client", ["ip", "addr", "add", `${clients[1]}/24`, "dev", "eth0"], {
    check: true,
  });
  return clients;
}

/** `count` new connections (Connection: close) from source address `from`; the status codes. */
async function requests(
  exec: (cmd: string[]) => Promise<{ stdout: string }>,
  from: string,
  url: string,
  count: number,
): Promise<string[]> {
  const r = await exec(newConnectionsCommand(url, count, { from, maxTimeSec: 60 }));
  return r.stdout.trim().split("\n");
}

Deno.test("daemon --workers 2: FULLNAT and NAT connections from both worker buckets all succeed on their own worker", async () => {
  const topo = await createTopology({ rsDefaultViaLb: true });
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  let code: number | undefined;
  try {
    const clients = await clientPerWorker(topo);
    nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers });
    lb = await startBalancer(topo, ["--workers", "2"]);
    const vip = topo.addrs.vips[0];
    const [rs1, rs2, rs3] = topo.addrs.realServers;
    const lips = topo.addrs.localAddrs.slice(0, 2);
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${rs1}:80`, "-b", "-w", "1");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${rs2}:80`, "-b", "-w", "1");
    for (const l of lips) await lb.ipvsadmOk("-P", "-t", `${vip}:80`, "-z", l);
    await lb.ipvsadmOk("-A", "-t", `${vip}:81`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${vip}:81`, "-r", `${rs3}:80`, "-m", "-w", "1");

    const exec = (cmd: string[]) => topo.exec("client", cmd);
    const results = await Promise.all(
      clients.flatMap((c) => [
        requests(exec, c, `http://${vip}/`, PER_CLIENT),
        requests(exec, c, `http://${vip}:81/`, PER_CLIENT),
      ]),
    );
    for (const codes of results) {
      assert.equal(codes.length, PER_CLIENT);
      assert.equal(codes.filter((c) => c === "200").length, PER_CLIENT, codes.join(","));
    }

    // The RS saw local addresses for FULLNAT and the clients themselves for NAT.
    const log = await nginx.accessLog();
    assert.equal(log.length, 4 * PER_CLIENT);
    const natPeers = log.filter((e) => !lips.includes(e.remoteAddr)).map((e) => e.remoteAddr);
    assert.equal(natPeers.length, 2 * PER_CLIENT);
    assert.ok(natPeers.every((a) => clients.includes(a)));

    const status = await lb.status() as unknown as { workers: WorkerJson[] };
    assert.equal(status.workers.length, 2);
    const [w0, w1] = status.workers;
    assert.ok(w0.localPorts[1] < w1.localPorts[0], "disjoint local port slices");
    for (const w of status.workers) {
      assert.equal(w.engine.sessionsCreated, 2 * PER_CLIENT, `worker ${w.index} sessions`);
      assert.equal(w.engine.tcpNoSession, 0, `worker ${w.index}: packets of another worker`);
      assert.equal(w.engine.passedThrough, 0, `worker ${w.index}: packets of another worker`);
      assert.equal(w.queue.handlerErrors, 0);
      assert.ok(w.engine.forwarded >= 2 * PER_CLIENT * 5, `worker ${w.index} forwarded`);
    }

    // Each FULLNAT session's local port lies in the slice of the worker its client maps to.
    const conns = (await lb.ipvsadmOk("-L", "-n", "-c")).trim().split("\n").slice(2)
      .map((l) => l.trim().split(/\s+/));
    const fullnat = conns.filter((c) => lips.includes(c[5].split(":")[0]));
    assert.ok(fullnat.length > 0, "FULLNAT sessions listed");
    for (const c of fullnat) {
      const client = c[3].split(":")[0];
      const lport = Number(c[5].split(":")[1]);
      const [lo, hi] = status.workers[workerOfAddress(client, 2)].localPorts;
      assert.ok(lport >= lo && lport <= hi, `${c.join(" ")} outside ${lo}-${hi}`);
    }
  } finally {
    code = await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
  }
  assert.equal(code, 0, `daemon exit code:\n${lb?.log()}`);
});

Deno.test("daemon --workers 2: an idle ESTABLISHED session that expires is reset through the raw socket", async () => {
  const topo = await createTopology({});
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  try {
    nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers });
    lb = await startBalancer(topo, ["--workers", "2"]);
    const vip = topo.addrs.vips[0];
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${topo.addrs.realServers[0]}:80`, "-b");
    await lb.ipvsadmOk("-P", "-t", `${vip}:80`, "-z", topo.addrs.localAddrs[0]);
    await lb.ipvsadmOk("--set", "2", "2", "2");
    // Connect, stay idle past the 2 s ESTABLISHED timeout, then see how the socket ended.
    const script = `
import socket, time
s = socket.create_connection(("${vip}", 80), timeout=5)
time.sleep(4)
try:
    data = s.recv(1)
    print("closed" if data == b"" else "data")
except ConnectionResetError:
    print("reset")
`;
    const r = await topo.exec("client", ["/usr/bin/python3", "-c", script]);
    assert.equal(r.stdout.trim(), "reset", r.stderr);
    await waitFor(async () => (await lb!.status()).sessions === 0, { timeoutMs: 5000 });
    const status = await lb.status() as unknown as {
      emitter: { sent: number; sendErrors: number };
      workers: WorkerJson[];
    };
    assert.equal(status.emitter.sent, 2, "one RST to each end");
    assert.equal(status.emitter.sendErrors, 0);
    const owner = workerOfAddress(topo.addrs.client, 2);
    assert.equal(status.workers[owner].emitter.sent, 2, "sent by the worker owning the session");
  } finally {
    await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
  }
});

Deno.test("daemon --workers 2: DR and TUNNEL connections from both worker buckets succeed on their own worker", async () => {
  const topo = await createTopology();
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  let tun: Awaited<ReturnType<typeof setupTunnelRs>> | undefined;
  let code: number | undefined;
  try {
    const clients = await clientPerWorker(topo);
    const vip = topo.addrs.vips[0];
    const [rs1, rs2] = topo.addrs.realServers;
    // rs1 by DR, rs2 by an IPIP tunnel: one namespace holds both, serving the VIP from lo.
    tun = await setupTunnelRs(topo, { source4: topo.addrs.lbB, vips: [vip], servers4: [rs2] });
    // The direct way back (direct_return.ts) knows the first client; the second too.
    await topo.exec("rs", [
      "ip",
      "route",
      "add",
      `${clients[1]}/32`,
      "via",
      RETURN_PLAN.client,
      "dev",
      RETURN_IFACE,
    ], { check: true });
    nginx = await startNginx({ netns: topo.rs, addrs: [vip] });
    lb = await startBalancer(topo, ["--workers", "2", "--tunnel-source", topo.addrs.lbB]);
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", rs1, "-g", "-w", "1");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", rs2, "-i", "-w", "1");

    const exec = (cmd: string[]) => topo.exec("client", cmd);
    const results = await Promise.all(
      clients.map((c) => requests(exec, c, `http://${vip}/`, PER_CLIENT)),
    );
    for (const codes of results) {
      assert.equal(codes.filter((c) => c === "200").length, PER_CLIENT, codes.join(","));
    }
    // The server saw each client itself, every request.
    const log = await nginx.accessLog();
    assert.equal(log.length, 2 * PER_CLIENT);
    for (const c of clients) {
      assert.equal(log.filter((e) => e.remoteAddr === c).length, PER_CLIENT, `requests of ${c}`);
    }
    const status = await lb.status() as unknown as { workers: WorkerJson[] };
    for (const w of status.workers) {
      const e = w.engine;
      assert.equal(e.sessionsCreated, PER_CLIENT, `worker ${w.index} sessions`);
      assert.equal(e.tcpNoSession, 0, `worker ${w.index}: packets of another worker`);
      assert.equal(e.passedThrough, 0, `worker ${w.index}: packets of another worker`);
      assert.ok(e.drRouted > PER_CLIENT && e.tunnelEncapsulated > PER_CLIENT, JSON.stringify(e));
      assert.equal(w.queue.marked, e.drRouted, `worker ${w.index}: every DR verdict marked`);
    }
    const unwrapped = await tun.unwrapped();
    assert.ok((unwrapped[rs2] ?? 0) > 2 * PER_CLIENT, JSON.stringify(unwrapped));
  } finally {
    code = await lb?.stop();
    await tun?.stop().catch(() => {});
    await nginx?.stop();
    await topo.destroy();
  }
  assert.equal(code, 0, `daemon exit code:\n${lb?.log()}`);
});
