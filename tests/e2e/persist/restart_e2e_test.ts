/**
 * End to end: a real daemon in the `lb` namespace is configured with `fullnat ipvsadm`,
 * stopped, and started again on the same state directory; the restored configuration lists
 * identically and HTTP flows through the VIP again. The configExport / configApply ops are
 * driven over the real control socket.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { createTopology } from "../../../testkit/netns.ts";
import { curl, type NginxServer, startNginx } from "../../../testkit/servers.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";

/** What an operator would compare: services, local addresses and timeouts as listed. */
async function listing(lb: Balancer): Promise<string> {
  const parts = await Promise.all([
    lb.ipvsadmOk("-L", "-n"),
    lb.ipvsadmOk("-G"),
    lb.ipvsadmOk("-L", "--timeout"),
  ]);
  return parts.join("\n---\n");
}

Deno.test("e2e persistence: a restarted daemon restores the configuration and traffic flows", async () => {
  const topo = await createTopology();
  const stateDir = await Deno.makeTempDir({ prefix: "fullnat-state-" });
  const args = ["--state-dir", stateDir];
  let nginx: NginxServer | undefined;
  let lb: Balancer | undefined;
  const codes: number[] = [];
  try {
    nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers });
    const vip = topo.addrs.vips[0];
    const [rs1, rs2] = topo.addrs.realServers;
    const [lip1, lip2] = topo.addrs.localAddrs;

    lb = await startBalancer(topo, args);
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${rs1}:80`, "-b", "-w", "1");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${rs2}:80`, "-b", "-w", "2");
    await lb.ipvsadmOk("-e", "-t", `${vip}:80`, "-r", `${rs2}:80`, "-b", "-w", "3");
    await lb.ipvsadmOk("-P", "-t", `${vip}:80`, "-z", lip1);
    await lb.ipvsadmOk("-P", "-t", `${vip}:80`, "-z", lip2);
    await lb.ipvsadmOk("-A", "-u", `${vip}:53`, "-s", "wrr", "-p", "120");
    await lb.ipvsadmOk("-a", "-u", `${vip}:53`, "-r", `${rs1}:53`, "-b", "-w", "5");
    await lb.ipvsadmOk("-P", "-u", `${vip}:53`, "-z", lip1);
    await lb.ipvsadmOk("--set", "900", "60", "120");
    // A refused command saves nothing and changes nothing.
    assert.notEqual((await lb.ipvsadm("-A", "-t", `${vip}:80`, "-s", "rr")).code, 0);
    const before = await listing(lb);
    assert.match(before, /TCP {2}\S+:80 rr/);
    const first = await curl(topo.client, `http://${vip}/`);
    assert.equal(first.status, 200, first.stderr);

    const client = await ControlClient.connect(lb.socket);
    let exported: string;
    try {
      exported = await client.call("configExport") as string;
      assert.deepEqual(await client.call("configApply", exported, { dryRun: true }), {
        changes: [],
      });
    } finally {
      client.close();
    }
    codes.push(await lb.stop());
    lb = undefined;

    lb = await startBalancer(topo, args);
    assert.match(
      lb.log(),
      /restored configuration version \d+ .*2 service\(s\), 3 real server\(s\), 3 local address\(es\)/,
    );
    assert.equal(await listing(lb), before);
    for (let i = 0; i < 3; i++) {
      const r = await curl(topo.client, `http://${vip}/`);
      assert.equal(r.status, 200, r.stderr);
      const m = /peer (\S+):/.exec(r.body);
      assert.ok(m && [lip1, lip2].includes(m[1]), `RS saw ${m?.[1]}, not a local address`);
    }
    const again = await ControlClient.connect(lb.socket);
    try {
      assert.equal(await again.call("configExport"), exported);
      // An invalid document over the socket: every problem named, nothing changed.
      const bad = exported.replace('"rr"', '"sed"').replace(`"port": 53`, `"port": 0`);
      await assert.rejects(
        () => again.call("configApply", bad),
        /services\[0\]\.scheduler: .*\n.*services\[1\]\.port: must be an integer from 1 to 65535/s,
      );
      assert.equal(await again.call("configExport"), exported);
    } finally {
      again.close();
    }
  } finally {
    if (lb) codes.push(await lb.stop());
    await nginx?.stop();
    await topo.destroy();
    await Deno.remove(stateDir, { recursive: true });
  }
  assert.deepEqual(codes, [0, 0], "both daemons stopped cleanly");
});
