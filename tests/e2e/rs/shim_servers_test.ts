/**
 * Unmodified servers under the TOA shim, without a balancer: nginx (access log and `$remote_addr`)
 * and Deno (`Deno.serve` and `Deno.listen`) in the `lb` namespace of the standard topology,
 * reached from `client` by a scapy client whose SYN carries TOA and by plain curl.
 */
import assert from "node:assert/strict";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { curl, startNginx, waitFor } from "../../../testkit/servers.ts";
import {
  buildShim,
  dropClientResets,
  HTTP_GET,
  httpBody,
  toaClient,
  toaOption,
  withEnv,
} from "../../../testkit/toa_support.ts";

const CLIENT6 = "2001:db8:a::2";
const SERVER6 = "2001:db8:a::1";
const DENO_SERVER = new URL("./remote_addr_server.ts", import.meta.url).pathname;

async function pairWithV6(): Promise<Topology> {
  const topo = await createTopology({ prefix: "fntoas" });
  try {
    await topo.exec("client", ["ip", "addr", "replace", `${CLIENT6}/64`, "dev", "eth0", "nodad"], {
      check: true,
    });
    await topo.exec("lb", ["ip", "addr", "replace", `${SERVER6}/64`, "dev", "eth0", "nodad"], {
      check: true,
    });
    await dropClientResets(topo.client);
    await dropClientResets(topo.client, true);
  } catch (e) {
    await topo.destroy();
    throw e;
  }
  return topo;
}

Deno.test("nginx under libfullnat_toa logs the TOA client, and the real address without TOA", async () => {
  const shim = await buildShim();
  const topo = await pairWithV6();
  const server = topo.addrs.lbA;
  const nginx = await withEnv(
    { LD_PRELOAD: shim },
    () => startNginx({ netns: topo.lb, addrs: [server, `[${SERVER6}]`], bulkBytes: 1024 }),
  );
  try {
    const toas = Array.from(
      { length: 6 },
      (_, i) => ({ addr: `192.0.2.${10 + i}`, port: 20000 + i }),
    );
    const [toaRes, plainRes] = await Promise.all([
      toaClient(topo.client, {
        src: topo.addrs.client,
        dst: server,
        dport: 80,
        conns: toas.map((t, i) => ({
          sport: 61000 + i,
          options: [toaOption(t.addr, t.port)],
          payload: HTTP_GET,
        })),
      }),
      Promise.all([0, 1, 2].map(() => curl(topo.client, `http://${server}/`))),
    ]);
    for (const [i, r] of toaRes.entries()) {
      assert.ok(r.ok, `sport ${r.sport}: ${r.error}`);
      assert.match(r.response, /^HTTP\/1\.1 200 /);
      assert.equal(
        httpBody(r.response),
        `server ${server}:80 peer ${toas[i].addr}:${toas[i].port}\n`,
      );
    }
    for (const c of plainRes) {
      assert.equal(c.status, 200, c.stderr);
      assert.equal(c.body, `server ${server}:80 peer ${c.localAddr}:${c.localPort}\n`);
      assert.equal(c.localAddr, topo.addrs.client);
    }

    // IPv6: an IPv6 TOA as sent, an IPv4 TOA as nginx prints v4-mapped peers.
    const v6 = await toaClient(topo.client, {
      src: CLIENT6,
      dst: SERVER6,
      dport: 80,
      conns: [
        { sport: 61100, options: [toaOption("2001:db8:c::7", 7777)], payload: HTTP_GET },
        { sport: 61101, options: [toaOption("192.0.2.99", 9999)], payload: HTTP_GET },
      ],
    });
    assert.ok(v6.every((r) => r.ok), JSON.stringify(v6));
    assert.match(httpBody(v6[0].response), / peer 2001:db8:c::7:7777\n$/);
    assert.match(httpBody(v6[1].response), / peer ::ffff:192\.0\.2\.99:9999\n$/);

    // The access log is what operators read: every line shows who really connected.
    const log = await nginx.accessLog();
    const seen = log.map((e) => `${e.remoteAddr}:${e.remotePort}`).sort();
    const expected = [
      ...toas.map((t) => `${t.addr}:${t.port}`),
      ...plainRes.map((c) => `${c.localAddr}:${c.localPort}`),
      "2001:db8:c::7:7777",
      "::ffff:192.0.2.99:9999",
    ].sort();
    assert.deepEqual(seen, expected);
    assert.ok(log.every((e) => e.status === 200));
  } finally {
    await nginx.stop();
    await topo.destroy();
  }
});

Deno.test("Deno.serve and Deno.listen under libfullnat_toa report the TOA client in remoteAddr", async () => {
  const shim = await buildShim();
  const topo = await pairWithV6();
  const server = topo.addrs.lbA;
  topo.spawn("lb", [
    Deno.execPath(),
    "run",
    "--allow-net",
    DENO_SERVER,
    server,
    "8080",
    "8081",
  ], { env: { LD_PRELOAD: shim } });
  try {
    await waitFor(async () => {
      const ss = await topo.exec("lb", ["ss", "-Hltn"]);
      const ports = ss.stdout.split("\n").map((l) => l.trim().split(/\s+/)[3]);
      return ports.includes(`${server}:8080`) && ports.includes(`${server}:8081`);
    }, { timeoutMs: 15000, what: "the Deno server listening" });

    const res = await toaClient(topo.client, {
      src: topo.addrs.client,
      dst: server,
      dport: 8080,
      conns: [{ sport: 61200, options: [toaOption("192.0.2.55", 5555)], payload: HTTP_GET }],
    });
    assert.ok(res[0].ok, res[0].error ?? "");
    assert.equal(httpBody(res[0].response), "remote 192.0.2.55:5555\n");

    const raw = await toaClient(topo.client, {
      src: topo.addrs.client,
      dst: server,
      dport: 8081,
      conns: [{ sport: 61201, options: [toaOption("192.0.2.56", 5656)], payload: "" }],
    });
    assert.ok(raw[0].ok, raw[0].error ?? "");
    assert.equal(raw[0].response, "remote 192.0.2.56:5656\n");

    const plain = await curl(topo.client, `http://${server}:8080/`);
    assert.equal(plain.status, 200, plain.stderr);
    assert.equal(plain.body, `remote ${topo.addrs.client}:${plain.localPort}\n`);
  } finally {
    await topo.destroy();
  }
});
