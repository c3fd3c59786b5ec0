/**
 * End to end, persistence templates with real curl clients and nginx real servers: two client
 * addresses of one /24 under `-p 300 -M 255.255.255.0` stick to one real server; `ipvsadm -L -n -c`
 * lists the template as IPVS does; the template survives a daemon restart in place (`restart`):
 * quiesced before the restart, its server still gets the /24's new connections afterwards (IPVS's
 * rule with `expire_quiescent_template` off), which no fresh scheduling would do, until
 * `tunable set expire-quiescent-template on` sends them elsewhere.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { createTopology } from "../../../testkit/netns.ts";
import { curl, type NginxServer, parseRootBody, startNginx } from "../../../testkit/servers.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

/** The real server that answered a request to `vip` from client address `from`. */
async function servedBy(netns: string, vip: string, from: string): Promise<string> {
  const r = await curl(netns, `http://${vip}/`, { args: ["--interface", from] });
  assert.equal(r.status, 200, `from ${from}: ${r.stderr}`);
  assert.equal(r.localAddr, from);
  const body = parseRootBody(r.body);
  assert.ok(body, r.body);
  return body.server;
}

/** The template rows of `ipvsadm -L -n -c`, split into columns. */
async function templateRows(lb: Balancer): Promise<string[][]> {
  const out = await lb.ipvsadmOk("-L", "-n", "-c");
  return out.trim().split("\n").slice(2).map((l) => l.trim().split(/\s+/))
    .filter((c) => c[2] === "NONE");
}

Deno.test("e2e: -M 255.255.255.0 keeps a /24 on one real server, the template is listed and survives a restart", async () => {
  const topo = await createTopology();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-templates-" });
  const args = ["--run-dir", `${dir}/run`, "--state-dir", `${dir}/state`];
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  try {
    const vip = topo.addrs.vips[0];
    const [rs1, rs2, rs3] = topo.addrs.realServers;
    const lip = topo.addrs.localAddrs[0];
    const clients = [topo.addrs.client, "198.51.100.3"];
    await topo.exec("client", ["ip", "addr", "add", `${clients[1]}/24`, "dev", "eth0"], {
      check: true,
    });
    nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers });
    lb = await startBalancer(topo, args);
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr", "-p", "300", "-M", "255.255.255.0");
    for (const rs of [rs1, rs2, rs3]) {
      await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${rs}:80`, "-b", "-w", "1");
    }
    await lb.ipvsadmOk("-P", "-t", `${vip}:80`, "-z", lip);
    assert.match(
      await lb.ipvsadmOk("-L", "-n"),
      /TCP {2}198\.51\.100\.10:80 rr persistent 300 mask 255\.255\.255\.0\n/,
    );

    // Six new connections from each address: rr alone would spread them over three servers.
    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      for (const c of clients) served.push(await servedBy(topo.client, vip, c));
    }
    assert.deepEqual(new Set(served), new Set([rs1]), served.join(" "));
    const peers = new Set((await nginx.accessLog()).map((e) => e.remoteAddr));
    assert.deepEqual(peers, new Set([lip]), "the real server saw the local address (FULLNAT)");

    // One template for the /24, as IPVS lists it: NONE, 198.51.100.0:0, no local endpoint.
    const before = await templateRows(lb);
    assert.equal(before.length, 1, JSON.stringify(before));
    const [proto, expire, , source, virtual, local, destination] = before[0];
    assert.deepEqual([proto, source, virtual, local, destination], [
      "TCP",
      "198.51.100.0:0",
      `${vip}:80`,
      "0.0.0.0:0",
      `${rs1}:80`,
    ]);
    assert.match(expire, /^0[45]:\d\d$/);
    const persistent = await lb.ipvsadmOk("-L", "-n", "--persistent-conn");
    assert.match(persistent, new RegExp(`-> ${rs1.replaceAll(".", "\\.")}:80 +1 +1 +`));

    // Quiesce the template's server, then restart the daemon in place.
    await lb.ipvsadmOk("-e", "-t", `${vip}:80`, "-r", `${rs1}:80`, "-b", "-w", "0");
    const client = await ControlClient.connect(lb.socket);
    try {
      assert.equal((await client.call("restart") as { restarting: boolean }).restarting, true);
    } finally {
      client.close();
    }
    assert.equal((await lb.exited()).code, 0);
    await lb.kill();
    lb = await startBalancer(topo, args);
    assert.match(lb.log(), /worker 0: took over 1 persistence template\(s\)/);
    const after = await templateRows(lb);
    assert.equal(after.length, 1, JSON.stringify(after));
    assert.deepEqual(after[0].slice(3), before[0].slice(3), "the same template");

    // A quiesced server keeps its persistent clients (expire_quiescent_template off), though a
    // fresh choice never picks weight 0: the template came through the restart.
    assert.equal(await servedBy(topo.client, vip, clients[1]), rs1);
    assert.equal(await servedBy(topo.client, vip, clients[0]), rs1);

    // With expire_quiescent_template on, the /24 is scheduled again, onto a live server.
    const set = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "tunable", "set", "expire-quiescent-template", "on"],
      env: { FULLNAT_SOCKET: lb.socket },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(set.code, 0, new TextDecoder().decode(set.stderr));
    const moved = await servedBy(topo.client, vip, clients[0]);
    assert.ok([rs2, rs3].includes(moved), moved);
    assert.equal(await servedBy(topo.client, vip, clients[1]), moved, "the /24 moved together");
    assert.equal((await templateRows(lb))[0][6], `${moved}:80`);
    const status = await lb.status() as unknown as {
      templates: number;
      engine: Record<string, number>;
    };
    assert.equal(status.templates, 1);
    assert.equal(status.engine.templatesInvalidated, 1);
  } finally {
    await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
