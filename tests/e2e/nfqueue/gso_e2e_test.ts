/**
 * End to end with GSO: a bulk TCP download through the queue, every packet of both
 * directions rewritten (a 1:1 address translation with incremental checksum updates), in
 * namespaces. Shows that super-packets are really seen, that the transfer arrives
 * byte-identical, and that it is the queue's checksum completion that makes it work.
 * Needs root, iptables and curl.
 */

import assert from "node:assert/strict";
import type { DiversionSpec } from "../../../src/fullnat/types.ts";
import { sha256Hex, writeBulkFile } from "../../../testkit/servers.ts";
import { startLoop } from "./loop_runner.ts";
import { Topology } from "../../../testkit/queue_topology.ts";

const QUEUE = 23;
const SERVER = new URL("./blob_server.ts", import.meta.url).pathname;
const BLOB_BYTES = 16 << 20;
const MTU = 1500;
// Not assigned anywhere: it exists only as the handler's translation of the server.
const VIRTUAL_IP = "10.201.2.99";

Deno.test("NfQueue with GSO: rewritten bulk TCP arrives byte-identical, super-packets seen", async (t) => {
  const topo = await Topology.create("gso");
  const dir = await Deno.makeTempDir({ prefix: "fnq-gso-" });
  try {
    const blobSum = await writeBulkFile(`${dir}/blob`, BLOB_BYTES);
    topo.spawn(topo.server, [
      ...[Deno.execPath(), "run", "-A", SERVER, topo.serverIp, "8080", `${dir}/blob`],
    ]);
    await topo.waitListening(topo.server, 8080);
    const spec: DiversionSpec = {
      services: [{ protocol: "tcp", address: VIRTUAL_IP, port: 8080 }],
      localAddresses: [],
      natRealServers: [{ protocol: "tcp", address: topo.serverIp, port: 8080 }],
    };
    const handler = `dnat=${VIRTUAL_IP}>${topo.serverIp}`;
    const fetchBlob = async (maxTime: number) => {
      const out = `${dir}/out`;
      await Deno.remove(out).catch(() => {});
      const r = await topo.exec(
        topo.client,
        ...["curl", "-sS", "--max-time", String(maxTime), "-o", out],
        `http://${VIRTUAL_IP}:8080/blob`,
      );
      return r.code === 0 ? sha256Hex(await Deno.readFile(out)) : undefined;
    };

    await t.step("GSO on (the default): byte-identical, GSO packets > MTU seen", async () => {
      const loop = await startLoop(topo, QUEUE, handler, spec);
      const sum = await fetchBlob(30);
      const c = (await loop.finish()).counters;
      assert.equal(sum, blobSum);
      assert.ok(c.gsoPackets > 0, `gsoPackets ${c.gsoPackets}`);
      assert.ok(c.largestPacket > MTU, `largestPacket ${c.largestPacket}`);
      assert.ok(c.checksumsCompleted > 0, `checksumsCompleted ${c.checksumsCompleted}`);
      assert.equal(c.checksumsNotCompleted, 0);
      assert.equal(c.rewritten, c.received);
      assert.equal(c.handlerErrors + c.truncated + c.verdictErrors + c.sendErrors, 0);
    });

    await t.step("GSO off: byte-identical, nothing larger than the MTU", async () => {
      const loop = await startLoop(topo, QUEUE, handler, spec, { gso: false });
      const sum = await fetchBlob(30);
      const c = (await loop.finish()).counters;
      assert.equal(sum, blobSum);
      assert.equal(c.gsoPackets, 0);
      assert.ok(c.largestPacket <= MTU, `largestPacket ${c.largestPacket}`);
      assert.equal(c.checksumsCompleted, 0);
      assert.ok(c.rewritten > BLOB_BYTES / MTU, `rewritten ${c.rewritten}`);
    });

    await t.step("GSO on without checksum completion: the transfer fails", async () => {
      const loop = await startLoop(topo, QUEUE, handler, spec, { fullChecksum: "off" });
      const sum = await fetchBlob(3);
      const c = (await loop.finish()).counters;
      assert.equal(sum, undefined);
      assert.equal(c.checksumsCompleted, 0);
      assert.ok(c.rewritten > 0);
    });
  } finally {
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
