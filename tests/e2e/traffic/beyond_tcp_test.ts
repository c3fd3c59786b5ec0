/**
 * End to end beyond IPv4 TCP (issue 4): UDP FULLNAT, ICMP errors translated through the
 * balancer (port unreachable, fragmentation needed), ICMP echo to a VIP, AH/ESP to a VIP and
 * fragmented datagrams, with the real daemon in `lb` configured by `fullnat ipvsadm`.
 */
import assert from "node:assert/strict";
import { startCapture } from "../../../testkit/capture.ts";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { curl, sha256Hex } from "../../../testkit/servers.ts";
import {
  parseUdpReply,
  PYTHON,
  splitEndpoint,
  startUdpServer,
  udpBulk,
  udpRequests,
  udpTool,
} from "../../../testkit/udp.ts";
import { sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";

Deno.test("e2e UDP FULLNAT: DNS-like requests from many ports, RS sees only local addresses, replies come from the VIP", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    const lips = topo.addrs.localAddrs.slice(0, 2);
    await addFullnatService(lb, "udp", vip, 53, topo.addrs.realServers, lips);
    const server = await startUdpServer(topo.rs, topo.addrs.realServers, 53);
    try {
      const n = 60;
      const { replies, errors } = await udpRequests(topo.client, vip, 53, n);
      assert.deepEqual(errors, []);
      assert.equal(replies.length, n);
      const clientPorts = new Set<number>();
      const servers = new Map<string, number>();
      for (const r of replies) {
        // The socket is connected to VIP:53, so the kernel delivers nothing from elsewhere.
        assert.equal(r.from, `${vip}:53`);
        clientPorts.add(splitEndpoint(r.client).port);
        const rep = parseUdpReply(r.body);
        assert.ok(rep, r.body);
        const peer = splitEndpoint(rep.peer);
        assert.ok(lips.includes(peer.addr), `RS saw ${rep.peer}, not a local address`);
        const s = splitEndpoint(rep.server).addr;
        servers.set(s, (servers.get(s) ?? 0) + 1);
      }
      assert.equal(clientPorts.size, n, "every request from its own client port");
      // Round robin over three servers: 20 each.
      assert.deepEqual(
        [...servers.entries()].sort(),
        topo.addrs.realServers.map((a) => [a, n / 3]),
      );
      // Every server saw local addresses only, each request from its own local endpoint.
      // One server process answers on all three addresses and counts for all of them.
      const { peers } = await server.stats();
      assert.equal(peers.length, n);
      assert.equal(new Set(peers).size, n);
      assert.ok(peers.every((p) => lips.includes(splitEndpoint(p).addr)), peers.join(" "));

      const conns = await lb.ipvsadmOk("-L", "-n", "-c");
      const udpRows = conns.split("\n").filter((l) => l.trim().startsWith("UDP"));
      assert.equal(udpRows.length, n, conns);
      const status = await lb.status();
      assert.equal(status.engine.sessionsCreated, n);
      assert.equal(status.engine.forwarded, 2 * n);
      assert.equal(status.queue.handlerErrors, 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("e2e UDP FULLNAT: a bulk stream of 5000 datagrams arrives complete and intact", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    const lip = topo.addrs.localAddrs[0];
    await addFullnatService(lb, "udp", vip, 5001, [rs], [lip]);
    const server = await startUdpServer(topo.rs, [rs], 5001);
    try {
      const count = 5000;
      const size = 1200;
      const r = await udpBulk(topo.client, vip, 5001, count, size);
      assert.equal(r.sent, count);
      assert.deepEqual(
        { good: r.far.good, bad: r.far.bad, distinct: r.far.distinct },
        { good: count, bad: 0, distinct: count },
        "the far end counted every datagram once, each with its own intact pattern",
      );
      assert.equal(r.far.bytes, count * size);
      console.log(
        `UDP bulk: ${count} x ${size} B in ${r.seconds.toFixed(3)} s ` +
          `(${Math.round(count / r.seconds)} datagrams/s offered, paced)`,
      );
      // The far end saw one sender: the local address.
      const stats = await server.stats();
      assert.deepEqual(Object.keys(stats.blk), [lip]);
      const status = await lb.status();
      assert.equal(status.engine.sessionsCreated, 1, "one client socket, one session");
      assert.equal(status.queue.handlerErrors, 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("e2e ICMP: a datagram to a closed RS port makes the client's connected socket see 'connection refused'", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    await addFullnatService(lb, "udp", vip, 54, [rs], [topo.addrs.localAddrs[0]]);
    // Nothing listens on port 54: rs answers "port unreachable" to the local address.
    const atClient = await startCapture(topo.client, "eth0", ["icmp"]);
    const r = await udpTool(topo.client, ["refused", vip, "54"]);
    const icmp = await atClient.stop();
    assert.deepEqual(r, { result: "refused" });
    // What the client got: destination unreachable (3), port unreachable (3), from the VIP.
    assert.equal(icmp.length, 1);
    const p = icmp[0];
    const src = [...p.subarray(12, 16)].join(".");
    assert.equal(src, vip, "the error comes from the VIP, not the RS");
    const ihl = (p[0] & 0xf) * 4;
    assert.deepEqual([p[ihl], p[ihl + 1]], [3, 3]);
    const status = await lb.status();
    assert.equal(status.engine.icmpErrorsTranslated, 1);
  });
});

Deno.test("e2e ICMP: 8 MB up and down through a 1280-byte router path complete byte-identical (PMTU discovery through the balancer)", async () => {
  const bulkBytes = 8 << 20;
  await withFamilyBed(
    { router: { mtu: 1280 }, nginx: { bulkBytes } },
    async ({ topo, lb, nginx }) => {
      const vip = topo.addrs.vips[0];
      const rs = topo.addrs.realServers[0];
      const lips = [topo.addrs.localAddrs[0]];
      await addFullnatService(lb, "tcp", vip, 9000, [rs], lips);
      await addFullnatService(lb, "tcp", vip, 80, [rs], lips);
      await startHashServer(topo, "sink", rs, 9000);

      // Upload: the client's full-size segments (MSS from a 1500-byte RS link, minus 8 for
      // TOA) do not fit the router's 1280; only a translated "fragmentation needed" helps.
      const t0 = performance.now();
      const up = await sendHashStream(topo, vip, 9000, bulkBytes, 7);
      const upSec = (performance.now() - t0) / 1000;
      assert.ok(up.sent, `upload did not complete ${up.output}`);
      assert.equal(up.got, up.sent, "the RS received exactly what the client sent");

      // The client learned the path MTU from the VIP, less the 8 bytes TOA adds to its
      // segments (the sink never speaks, so every segment carries TOA).
      const route = await topo.exec("client", ["ip", "route", "get", vip]);
      const pmtu = Number(/ mtu (\d+)/.exec(route.stdout)?.[1]);
      assert.equal(pmtu, 1280 - 8, route.stdout);

      // Download: the RS learns the smaller path from the router itself.
      const t1 = performance.now();
      const down = await curl(topo.client, `http://${vip}${nginx!.bulkPath}`, { maxTimeSec: 60 });
      const downSec = (performance.now() - t1) / 1000;
      assert.equal(down.status, 200, down.stderr);
      assert.equal(sha256Hex(down.bytes), nginx!.bulkSha256);

      const status = await lb.status();
      assert.ok(status.engine.icmpErrorsTranslated >= 1, JSON.stringify(status.engine));
      console.log(
        `PMTU 1280 path: client PMTU to the VIP ${pmtu}; 8 MiB up ${upSec.toFixed(2)} s, ` +
          `down ${downSec.toFixed(2)} s; ICMP errors translated ` +
          `${status.engine.icmpErrorsTranslated}, balancer's own frag-needed ` +
          `${status.engine.toaFragNeeded}`,
      );
    },
  );
});

Deno.test("e2e ICMP: echo requests to a VIP are answered by the VIP", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    await addFullnatService(lb, "tcp", vip, 80, topo.addrs.realServers, [
      topo.addrs.localAddrs[0],
    ]);
    await addFullnatService(lb, "udp", vip, 53, topo.addrs.realServers, [
      topo.addrs.localAddrs[0],
    ]);
    const atRs = await startCapture(topo.rs, "eth0", ["icmp"]);
    const ping = await topo.exec("client", ["ping", "-c3", "-i0.2", "-W2", vip]);
    const leaked = await atRs.stop();
    assert.equal(ping.code, 0, ping.stdout);
    assert.match(ping.stdout, /3 packets transmitted, 3 received/);
    assert.match(ping.stdout, new RegExp(`from ${vip.replaceAll(".", "\\.")}: icmp_seq=1`));
    assert.equal(leaked.length, 0, "echo requests never reach a real server");
  });
});

/** scapy in the client: `count` ESP and `count` AH packets to `vip`. */
function ipsecScript(vip: string, count: number): string {
  return [
    "from scapy.all import IP, Raw, send",
    "from scapy.layers.ipsec import AH, ESP",
    `pkts = [IP(dst="${vip}")/ESP(spi=0x1001, seq=i)/Raw(bytes(64)) for i in range(${count})]`,
    `pkts += [IP(dst="${vip}")/AH(spi=0x2002, seq=i, nh=6)/Raw(bytes(40)) for i in range(${count})]`,
    "send(pkts, verbose=0)",
  ].join("\n");
}

Deno.test("e2e AH/ESP to a VIP: never reach a real server, dropped and counted (otherProtocolDropped)", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    await addFullnatService(lb, "tcp", vip, 80, topo.addrs.realServers, [
      topo.addrs.localAddrs[0],
    ]);
    const ipsec = ["ip", "proto", "50", "or", "ip", "proto", "51"];
    const atLb = await startCapture(topo.lb, "eth0", ipsec);
    const atRs = await startCapture(topo.rs, "eth0", ipsec);
    const count = 5;
    const sent = await topo.exec("client", [PYTHON, "-c", ipsecScript(vip, count)]);
    assert.equal(sent.code, 0, sent.stderr);
    const [arrived, leaked] = [await atLb.stop(), await atRs.stop()];
    assert.equal(arrived.length, 2 * count, "all AH/ESP packets reached the balancer");
    assert.equal(leaked.length, 0, "none reached a real server");
    const status = await lb.status();
    assert.equal(
      status.engine.otherProtocolDropped,
      2 * count,
      "AH/ESP to the VIP must reach the daemon and be counted; the diversion rules must " +
        `send every protocol but TCP/UDP addressed to a VIP to the queue: ${
          JSON.stringify({
            otherProtocolDropped: status.engine.otherProtocolDropped,
            otherProtocol: status.engine.otherProtocol,
            packets: status.engine.packets,
          })
        }`,
    );
  });
});

Deno.test("e2e fragments: a UDP datagram bigger than the MTU to a UDP VIP is dropped and counted (fragments), a smaller one passes", async () => {
  await withFamilyBed({}, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    await addFullnatService(lb, "udp", vip, 7000, [rs], [topo.addrs.localAddrs[0]]);
    const server = await startUdpServer(topo.rs, [rs], 7000);
    try {
      const small = await udpTool(topo.client, ["big", vip, "7000", "1400"]);
      assert.deepEqual(small, { result: "reply", length: 1400, good: true });

      const atClient = await startCapture(topo.client, "eth0", [
        "udp",
        "or",
        "(ip[6:2] & 0x1fff) != 0",
      ]);
      const atRs = await startCapture(topo.rs, "eth0", ["ip[6:2] & 0x3fff != 0"]);
      const before = (await lb.status()).engine.fragments;
      const big = await udpTool(topo.client, ["big", vip, "7000", "4000"]);
      const [sentFrags, rsFrags] = [await atClient.stop(), await atRs.stop()];
      // The client kernel cut the 4028-byte datagram into three fragments.
      const out = sentFrags.filter((p) => [...p.subarray(16, 20)].join(".") === vip);
      assert.equal(out.length, 3, "three fragments sent");
      assert.deepEqual(big, { result: "timeout" });
      assert.equal(rsFrags.length, 0, "no fragment reached the real server");
      const stats = await server.stats();
      assert.deepEqual(stats.big.map((b) => b.length), [1400], "only the small datagram arrived");
      // No conntrack (NOTRACK) means no defragmentation before the raw table: the first
      // fragment (service rule) and the later ones (fragment rule of the VIP) are diverted
      // and dropped by the engine, each counted.
      const after = (await lb.status()).engine.fragments;
      assert.equal(after - before, 3, "all three fragments counted");
    } finally {
      await server.stop();
    }
  });
});
