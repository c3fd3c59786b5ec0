/**
 * End to end: client -> router (queue loop + diversion) -> server, in namespaces.
 * Needs root, iptables, curl and python3.
 */

import assert from "node:assert/strict";
import type { DiversionSpec } from "../../../src/fullnat/types.ts";
import { sha256Hex, writeBulkFile } from "../../../testkit/servers.ts";
import { startLoop } from "./loop_runner.ts";
import { Topology } from "../../../testkit/queue_topology.ts";

const QUEUE = 21;
const SERVER = new URL("./blob_server.ts", import.meta.url).pathname;
const BLOB_BYTES = 2 << 20;

Deno.test("queue end to end: TCP and UDP through the loop with several handlers", async (t) => {
  const topo = await Topology.create("e2e");
  const dir = await Deno.makeTempDir({ prefix: "fnq-e2e-" });
  try {
    const blobSum = await writeBulkFile(`${dir}/blob`, BLOB_BYTES);
    for (const port of [8080, 8081]) {
      topo.spawn(topo.server, [
        ...[Deno.execPath(), "run", "-A", SERVER, topo.serverIp, String(port)],
        `${dir}/blob`,
      ]);
      await topo.waitListening(topo.server, port);
    }
    // Both directions of both ports go through the queue: client->server as a service,
    // server->client as a NAT real server's replies.
    const tcpSpec: DiversionSpec = {
      services: [8080, 8081].map((port) => ({ protocol: "tcp", address: topo.serverIp, port })),
      localAddresses: [],
      natRealServers: [8080, 8081].map((port) => ({
        protocol: "tcp",
        address: topo.serverIp,
        port,
      })),
    };
    const fetchBlob = async (port: number, maxTime = 20) => {
      const out = `${dir}/out-${port}`;
      await Deno.remove(out).catch(() => {});
      const r = await topo.exec(
        topo.client,
        ...["curl", "-sS", "--max-time", String(maxTime), "-o", out],
        `http://${topo.serverIp}:${port}/blob`,
      );
      if (r.code !== 0) return undefined;
      return sha256Hex(await Deno.readFile(out));
    };

    await t.step("(a) Accept handler: transfer succeeds, counters show the packets", async () => {
      const loop = await startLoop(topo, QUEUE, "accept", tcpSpec);
      assert.ok(loop.sysctl.some((c) => c.key === "net.ipv4.ip_forward" && c.to === "1"));
      const sum = await fetchBlob(8080);
      const report = await loop.finish();
      assert.equal(sum, blobSum);
      const c = report.counters;
      // 2 MiB in packets of at most 64 KiB (GSO is on by default): at least 32.
      assert.ok(c.received >= 32, `received ${c.received}`);
      assert.equal(c.accepted, c.received);
      assert.equal(c.rewritten + c.dropped + c.handlerErrors + c.malformed + c.truncated, 0);
      assert.equal(c.sendErrors + c.verdictErrors + c.recvErrors, 0);
      assert.ok(c.batches > 0 && c.batches <= c.received);
      assert.ok(report.kernel !== undefined && report.kernel.idSequence >= c.received);
      assert.ok(report.ticks > 0, "the event loop kept running");
    });

    await t.step("(b) Rewritten with identical bytes: transfer byte-identical", async () => {
      const loop = await startLoop(topo, QUEUE, "same", tcpSpec);
      const sum = await fetchBlob(8080);
      const report = await loop.finish();
      assert.equal(sum, blobSum);
      assert.ok(report.counters.rewritten >= 32);
      assert.equal(report.counters.rewritten, report.counters.received);
      // GSO is on by default: pending checksums were completed, none left undone.
      assert.ok(report.counters.checksumsCompleted > 0);
      assert.equal(report.counters.checksumsNotCompleted, 0);
      assert.equal(report.counters.verdictErrors + report.counters.sendErrors, 0);
    });

    await t.step("(c1) Drop verdicts take effect: one port blocked, the other works", async () => {
      const loop = await startLoop(topo, QUEUE, "drop-port=8081", tcpSpec);
      const blocked = await fetchBlob(8081, 2);
      const open = await fetchBlob(8080);
      const report = await loop.finish();
      assert.equal(blocked, undefined);
      assert.equal(open, blobSum);
      assert.ok(report.counters.dropped >= 1);
    });

    await t.step("(c2) A rewritten, longer packet reaches the receiver", async () => {
      const receiver = topo.spawn(topo.server, [
        "python3",
        "-c",
        "import socket,sys\n" +
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
        `s.bind(('${topo.serverIp}',9999))\n` +
        "s.settimeout(10)\n" +
        "d,a=s.recvfrom(2048)\n" +
        "sys.stdout.write(d.decode())\n",
      ], { stdout: "piped" });
      await new Promise((r) => setTimeout(r, 300));
      const loop = await startLoop(topo, QUEUE, "udp-append=+fullnat", {
        services: [{ protocol: "udp", address: topo.serverIp, port: 9999 }],
        localAddresses: [],
        natRealServers: [],
      });
      const send = await topo.exec(
        topo.client,
        "python3",
        "-c",
        "import socket\n" +
          "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
          `s.sendto(b'hello',('${topo.serverIp}',9999))\n`,
      );
      assert.equal(send.code, 0);
      const got = new TextDecoder().decode((await receiver.output()).stdout);
      const report = await loop.finish();
      assert.equal(got, "hello+fullnat");
      assert.equal(report.counters.rewritten, 1);
    });

    await t.step("(e) A throwing handler: errors counted, traffic still flows", async () => {
      const loop = await startLoop(topo, QUEUE, "throw", tcpSpec);
      const sum = await fetchBlob(8080);
      const report = await loop.finish();
      assert.equal(sum, blobSum);
      assert.ok(report.counters.handlerErrors >= 32);
      assert.equal(report.counters.handlerErrors, report.counters.received);
      assert.equal(report.counters.accepted, report.counters.received);
    });
  } finally {
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
