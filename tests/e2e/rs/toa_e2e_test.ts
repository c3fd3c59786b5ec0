/**
 * End to end: the real daemon inserts TOA into the client's SYN, and nginx on the real server,
 * unmodified but started under the shim, logs the client's real address for FULLNAT
 * connections, while a connection that reaches it directly (no TOA) keeps its own address.
 */
import assert from "node:assert/strict";
import { createTopology } from "../../../testkit/netns.ts";
import { curl, type NginxServer, startNginx } from "../../../testkit/servers.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { buildShim, withEnv } from "../../../testkit/toa_support.ts";

Deno.test("e2e TOA: nginx under libfullnat_toa logs the real client for FULLNAT connections", async () => {
  const shim = await buildShim();
  const topo = await createTopology({ prefix: "fntoae" });
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  let code: number | undefined;
  try {
    const lips = topo.addrs.localAddrs.slice(0, 2);
    nginx = await withEnv(
      // As an operator would: only the balancer's local addresses may speak for clients.
      { LD_PRELOAD: shim, FULLNAT_TOA_TRUST: lips.join(",") },
      () => startNginx({ netns: topo.rs, addrs: topo.addrs.realServers, bulkBytes: 1024 }),
    );
    lb = await startBalancer(topo);
    const vip = topo.addrs.vips[0];
    const svc = `${vip}:80`;
    await lb.ipvsadmOk("-A", "-t", svc, "-s", "rr");
    for (const rs of topo.addrs.realServers) {
      await lb.ipvsadmOk("-a", "-t", svc, "-r", `${rs}:80`, "-b", "-w", "1");
    }
    for (const l of lips) await lb.ipvsadmOk("-P", "-t", svc, "-z", l);

    const viaVip = [];
    for (let i = 0; i < 6; i++) {
      const r = await curl(topo.client, `http://${vip}/`);
      assert.equal(r.status, 200, r.stderr);
      assert.equal(r.localAddr, topo.addrs.client);
      // `$remote_addr:$remote_port` as nginx itself reports them: the client's own.
      assert.match(r.body, new RegExp(`^server \\S+:80 peer ${r.localAddr}:${r.localPort}\\n$`));
      viaVip.push(`${r.localAddr}:${r.localPort}`);
    }

    // Straight from the balancer's box to a real server: no TOA, so the real peer stays.
    const rs0 = topo.addrs.realServers[0];
    const direct = await curl(topo.lb, `http://${rs0}/`);
    assert.equal(direct.status, 200, direct.stderr);
    assert.equal(direct.body, `server ${rs0}:80 peer ${topo.addrs.lbB}:${direct.localPort}\n`);

    const log = await nginx.accessLog();
    assert.deepEqual(
      log.map((e) => `${e.remoteAddr}:${e.remotePort}`).sort(),
      [...viaVip, `${topo.addrs.lbB}:${direct.localPort}`].sort(),
      "the access log shows the client for FULLNAT connections, the box itself for the direct one",
    );
    const status = await lb.status();
    assert.equal(status.engine.toaInserted >= 6, true, JSON.stringify(status.engine));
  } finally {
    code = await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
  }
  if (code !== undefined && code !== 0) {
    throw new Error(`daemon exited with ${code}:\n${lb?.log()}`);
  }
});
