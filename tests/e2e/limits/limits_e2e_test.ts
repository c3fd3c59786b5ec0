/**
 * End to end, issue 18 point 3, with real traffic through the namespaces and the real daemon
 * configured by `fullnat ipvsadm` and the `fullnat` admin commands:
 *
 * - one-packet scheduling (`-o`): a few thousand DNS-like queries from one client, each from a
 *   port of its own as resolvers send them, are all answered while the local ports in use stay
 *   few; the same load on a service without `-o` holds a port per query for the UDP timeout,
 *   and with a small port range runs out of them (the failure);
 * - an upper threshold (`-x N`): of N+k held connections N reach that server, the rest the
 *   other one;
 * - `rs drain --within 3 --wait`: weight 0 at once, and at the deadline the held connections
 *   are reset at both ends and the server removed.
 *
 * Prints the figures measured (port usage with and without `-o`, drain timing).
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { LinePeer } from "../../../testkit/line_peer.ts";
import type { Balancer } from "../../../testkit/balancer.ts";
import { startUdpServer, udpQueries } from "../../../testkit/udp.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

/** Runs a one-shot `fullnat ARGS` against the daemon of `lb`. */
async function fullnat(lb: Balancer, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { FULLNAT_SOCKET: lb.socket },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Sessions of one service, summed over its real servers (each FULLNAT session holds a port). */
async function serviceSessions(c: ControlClient, protocol: "tcp" | "udp", port: number) {
  const svc = (await c.listServices()).find((s) => s.protocol === protocol && s.port === port);
  return svc?.realServers.reduce((n, r) => n + r.activeConns + r.inactiveConns, 0) ?? 0;
}

Deno.test("e2e one-packet UDP: thousands of queries all answered with few local ports; without -o a port per query", async () => {
  // 200 local ports: with three real servers and one local address, 600 (RS, port) tuples.
  await withFamilyBed({ daemonArgs: ["--local-ports", "20000-20199"] }, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    const [lipOps, lipPlain] = topo.addrs.localAddrs;
    const rs = topo.addrs.realServers;
    await addFullnatService(lb, "udp", vip, 53, rs, [lipOps]);
    await lb.ipvsadmOk("-E", "-u", `${vip}:53`, "-o");
    assert.match(await lb.ipvsadmOk("-L", "-n", "-u", `${vip}:53`), /^UDP {2}\S+:53 rr ops$/m);
    // The same servers behind a service without -o, from its own local address.
    await addFullnatService(lb, "udp", vip, 54, rs, [lipPlain], 53);
    const server = await startUdpServer(topo.rs, rs, 53);
    const control = await ControlClient.connect(lb.socket);
    try {
      const count = 3000;
      let maxOps = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          maxOps = Math.max(maxOps, await serviceSessions(control, "udp", 53));
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const ops = await udpQueries(topo.client, vip, 53, count, 32);
      sampling = false;
      await sampler;
      const heldAfterOps = await serviceSessions(control, "udp", 53);
      assert.equal(ops.answered, count, JSON.stringify(ops));
      assert.equal(ops.timeouts + ops.errors, 0);
      assert.ok(maxOps <= 64, `ports in use with -o peaked at ${maxOps}`);
      assert.equal(heldAfterOps, 0, "every session ended with its answer");
      const s1 = await lb.status();
      assert.equal(s1.engine.onePacketScheduled, count);
      assert.equal(s1.engine.onePacketAnswered, count);
      assert.equal(s1.engine.portExhausted, 0);

      // Without -o each query keeps its session and port for the UDP timeout (300 s): the 600
      // tuples are used up and later queries are dropped (those from a client port used
      // before find their old session and are answered).
      const plainCount = 1000;
      const plain = await udpQueries(topo.client, vip, 54, plainCount, 64, 0.5);
      const heldPlain = await serviceSessions(control, "udp", 54);
      const s2 = await lb.status();
      assert.equal(heldPlain, 600, "every tuple held");
      assert.ok(plain.answered >= 600 && plain.answered < plainCount, JSON.stringify(plain));
      assert.equal(plain.timeouts, plainCount - plain.answered);
      assert.equal(s2.engine.portExhausted, plain.timeouts, JSON.stringify(s2.engine));
      console.log(
        `one-packet: ${count} queries (${ops.ports} client ports, 32 outstanding) all answered ` +
          `in ${ops.seconds.toFixed(2)} s (${Math.round(count / ops.seconds)}/s); local ports ` +
          `in use peaked at ${maxOps}, ${heldAfterOps} held after. Without -o, ${plainCount} ` +
          `queries: ${plain.answered} answered, ${heldPlain} ports held for 300 s, ` +
          `${plain.timeouts} unanswered (portExhausted ${s2.engine.portExhausted})`,
      );
    } finally {
      await control.close();
      await server.stop();
    }
  });
});

/** Echo servers on the first two real servers at `port`, a FULLNAT rr service over both. */
async function echoService(
  topo: Parameters<Parameters<typeof withFamilyBed>[1]>[0]["topo"],
  lb: Balancer,
  port: number,
  peers: LinePeer[],
): Promise<LinePeer[]> {
  const servers = topo.addrs.realServers.slice(0, 2).map((rs) => {
    const p = LinePeer.tcpPeers(topo, "rs", ["serve", rs, `${port}`]);
    peers.push(p);
    return p;
  });
  for (const s of servers) await s.expect(/listening/);
  await addFullnatService(
    lb,
    "tcp",
    topo.addrs.vips[0],
    port,
    topo.addrs.realServers.slice(0, 2),
    topo.addrs.localAddrs.slice(0, 1),
  );
  return servers;
}

Deno.test("e2e upper threshold: of N+k held connections N reach the server, the rest the other", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const peers: LinePeer[] = [];
    try {
      const vip = topo.addrs.vips[0];
      const [rs1] = topo.addrs.realServers;
      const [s1, s2] = await echoService(topo, lb, 7000, peers);
      const n = 3;
      const k = 4;
      await lb.ipvsadmOk("-e", "-t", `${vip}:7000`, "-r", `${rs1}:7000`, "-x", `${n}`);
      const client = LinePeer.tcpPeers(topo, "client", ["client", vip, "7000"]);
      peers.push(client);
      for (let i = 0; i < n + k; i++) {
        await client.say(`open c${i}`);
        await client.expect(new RegExp(`opened c${i} \\d+`));
        await client.say(`send c${i} hello${i}`);
        await client.expect(new RegExp(`reply c${i} hello${i} \\d+`));
      }
      const accepted = async (p: LinePeer) => {
        await p.say("list");
        return (await p.expect(/open(( \d+)*)/))[1].trim().split(" ").filter((x) => x).length;
      };
      assert.deepEqual([await accepted(s1), await accepted(s2)], [n, k]);
      const listing = await lb.ipvsadmOk("-L", "-n", "--thresholds", "-t", `${vip}:7000`);
      assert.match(listing, new RegExp(`-> ${rs1.replaceAll(".", "\\.")}:7000 +${n} +0 +${n} +0`));
      const s = await lb.status();
      assert.equal(s.engine.overloads, 1);
      assert.equal(s.engine.overloadRedirected, 2, "rr would have sent 2 of the last 4 there");
      assert.match(await lb.ipvsadmOk("-S", "-n"), new RegExp(`-r ${rs1}:7000 -b -w 1 -x ${n}\n`));
      console.log(
        `threshold: -x ${n}, ${n + k} held connections: ${n} to ${rs1}, ${k} to the other`,
      );
    } finally {
      for (const p of peers) await p.close();
    }
  });
});

Deno.test("e2e rs drain --within 3: weight 0 at once, held connections reset at both ends at the deadline", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const peers: LinePeer[] = [];
    try {
      const vip = topo.addrs.vips[0];
      const [rs1, rs2] = topo.addrs.realServers;
      const [s1] = await echoService(topo, lb, 7001, peers);
      const client = LinePeer.tcpPeers(topo, "client", ["client", vip, "7001"]);
      peers.push(client);
      // rr: c0 and c2 to the first server, c1 and c3 to the second.
      for (let i = 0; i < 4; i++) {
        await client.say(`open c${i}`);
        await client.expect(new RegExp(`opened c${i} \\d+`));
        await client.say(`send c${i} hi`);
        await client.expect(new RegExp(`reply c${i} hi \\d+`));
      }
      const t0 = performance.now();
      const drain = fullnat(
        lb,
        "rs",
        "drain",
        "tcp",
        `${vip}:7001`,
        `${rs1}:7001`,
        "--within",
        "3",
        "--wait",
      );
      // Weight 0 at once: a new connection goes to the other server while the drain runs.
      await new Promise((r) => setTimeout(r, 1000));
      const mid = await lb.ipvsadmOk("-L", "-n", "-t", `${vip}:7001`);
      assert.match(mid, new RegExp(`-> ${rs1.replaceAll(".", "\\.")}:7001 +FullNat +0 +2 +0`));
      const progress = await fullnat(lb, "status");
      assert.match(
        progress.stdout,
        /drains:\n {2}#1 tcp \S+ rs \S+ draining: 2 session\(s\) left of 2, deadline in [123] s/,
      );
      const r = await drain;
      const took = performance.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /^#1 tcp \S+:7001 rs \S+:7001 done \(deadline\) after 3\.\d\d s: 2 session\(s\) ended, 2 reset at both ends; removed\n$/,
      );
      // The real server's ends were reset...
      await s1.expect(/reset \d+/, 3000);
      await s1.expect(/reset \d+/, 3000);
      // ... and the clients' too; the other server's connections go on.
      const outcome: string[] = [];
      for (let i = 0; i < 4; i++) {
        await client.say(`send c${i} after`);
        outcome.push((await client.expect(new RegExp(`(reply|reset|closed) c${i}.*`)))[1]);
      }
      assert.deepEqual(outcome, ["reset", "reply", "reset", "reply"]);
      const after = await lb.ipvsadmOk("-L", "-n", "-t", `${vip}:7001`);
      assert.doesNotMatch(after, new RegExp(rs1.replaceAll(".", "\\.")));
      assert.match(after, new RegExp(rs2.replaceAll(".", "\\.")));
      const s = await lb.status();
      assert.equal(s.engine.serverSessionResets, 2);
      console.log(
        `drain --within 3: command returned after ${
          (took / 1000).toFixed(2)
        } s; ${r.stdout.trim()}`,
      );
    } finally {
      for (const p of peers) await p.close();
    }
  });
});
