/** nginx real servers inside the `rs` namespace, the curl client and waitFor. */

import assert from "node:assert/strict";
import { createTopology } from "../../../testkit/netns.ts";
import {
  curl,
  parseAccessLine,
  parseRootBody,
  sha256Hex,
  startNginx,
  waitFor,
} from "../../../testkit/servers.ts";

Deno.test("nginx serves in rs and its access log names the peer", async () => {
  const topo = await createTopology();
  try {
    const rsAddrs = topo.addrs.realServers;
    const nginx = await startNginx({ netns: topo.rs, addrs: rsAddrs, bulkBytes: 3 << 20 });
    try {
      // From lb, sourced from a local address: what a FULLNAT rewrite makes the RS see.
      const lip = topo.addrs.localAddrs[1];
      const res = await curl(topo.lb, `http://${rsAddrs[2]}/`, { args: ["--interface", lip] });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.status, 200);
      const body = parseRootBody(res.body);
      assert.ok(body !== null, res.body);
      assert.equal(body.server, rsAddrs[2]);
      assert.equal(body.serverPort, 80);
      assert.equal(body.peer, lip);
      assert.equal(body.peerPort, res.localPort);
      assert.equal(res.localAddr, lip);

      const bulk = await curl(topo.lb, `http://${rsAddrs[0]}${nginx.bulkPath}`);
      assert.equal(bulk.status, 200);
      assert.equal(bulk.bytes.length, 3 << 20);
      assert.equal(sha256Hex(bulk.bytes), nginx.bulkSha256);

      const log = await waitFor(async () => {
        const entries = await nginx.accessLog();
        return entries.length >= 2 ? entries : null;
      }, { what: "two access log lines" });
      assert.equal(log[0].remoteAddr, lip);
      assert.equal(log[0].remotePort, res.localPort);
      assert.equal(log[0].path, "/");
      assert.equal(log[0].status, 200);
      assert.equal(log[0].bodyBytes, res.bytes.length);
      assert.equal(log[1].remoteAddr, topo.addrs.lbB);
      assert.equal(log[1].path, nginx.bulkPath);
      assert.equal(log[1].bodyBytes, 3 << 20);
    } finally {
      await nginx.stop();
    }
    // Stopped means stopped, and the directory is gone.
    await assert.rejects(() => Deno.stat(nginx.dir));
    const after = await curl(topo.lb, `http://${rsAddrs[0]}/`, { maxTimeSec: 2 });
    assert.notEqual(after.code, 0);
    assert.equal(after.status, 0);
  } finally {
    await topo.destroy();
  }
});

Deno.test("client cannot reach the real servers without the balancer", async () => {
  const topo = await createTopology();
  try {
    const nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers.slice(0, 1) });
    try {
      const res = await curl(topo.client, `http://${topo.addrs.realServers[0]}/`, {
        maxTimeSec: 2,
        connectTimeoutSec: 1,
      });
      assert.notEqual(res.code, 0);
      assert.equal((await nginx.accessLog()).length, 0);
    } finally {
      await nginx.stop();
    }
  } finally {
    await topo.destroy();
  }
});

Deno.test("startNginx reports a listener that cannot start", async () => {
  const topo = await createTopology();
  try {
    // 192.0.2.1 is not assigned in rs, so bind() fails and nginx exits.
    await assert.rejects(
      () => startNginx({ netns: topo.rs, addrs: ["192.0.2.1"], startTimeoutMs: 2000 }),
      /nginx error log:[\s\S]*192\.0\.2\.1/,
    );
  } finally {
    await topo.destroy();
  }
});

Deno.test("access log lines parse, odd requests included", () => {
  const e = parseAccessLine("203.0.113.201:40001 GET /bulk.bin HTTP/1.1 200 1048576");
  assert.equal(e.remoteAddr, "203.0.113.201");
  assert.equal(e.remotePort, 40001);
  assert.equal(e.method, "GET");
  assert.equal(e.path, "/bulk.bin");
  assert.equal(e.status, 200);
  assert.equal(e.bodyBytes, 1048576);
  const bad = parseAccessLine("203.0.113.201:40002  400 0");
  assert.equal(bad.request, "");
  assert.equal(bad.status, 400);
  assert.throws(() => parseAccessLine("garbage"));
});

Deno.test("waitFor returns the value and times out with the reason", async () => {
  let n = 0;
  assert.equal(await waitFor(() => ++n >= 3 && n, { intervalMs: 1 }), 3);
  await assert.rejects(
    () => waitFor(() => false, { timeoutMs: 50, intervalMs: 5, what: "never" }),
    /timed out after 50 ms waiting for never/,
  );
});
