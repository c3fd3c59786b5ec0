/**
 * End to end, the fast path's rules without a kernel port (`--offload established` before the
 * ctnetlink module is glued in, `src/daemon/offload_kernel.ts`): only client SYNs are queued
 * from `raw`; every other TCP packet meets conntrack, finds no entry (loose pickup off), is
 * INVALID and reaches the queue from `mangle` with the per-worker steering, so HTTP through two
 * workers works as before; the conntrack settings are set while it runs, and the stop leaves
 * the box's tables and settings as they were.
 */
import assert from "node:assert/strict";
import { createTopology } from "../../../testkit/netns.ts";
import { curl, startNginx } from "../../../testkit/servers.ts";
import { startBalancer } from "../../../testkit/balancer.ts";

Deno.test("e2e offload rules: traffic through the INVALID path on 2 workers; the stop undoes all", async () => {
  const topo = await createTopology({ prefix: "h15e", sweep: false });
  const nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers });
  const sysctl = async (key: string) =>
    (await topo.exec("lb", ["cat", `/proc/sys/net/netfilter/${key}`])).stdout.trim();
  const table = async (t: string) =>
    (await topo.exec("lb", ["iptables", "-w", "-t", t, "-S"])).stdout;
  try {
    const before = {
      loose: await sysctl("nf_conntrack_tcp_loose"),
      acct: await sysctl("nf_conntrack_acct"),
      established: await sysctl("nf_conntrack_tcp_timeout_established"),
    };
    const lb = await startBalancer(topo, ["--offload", "established", "--workers", "2"]);
    let code: number | undefined;
    try {
      const vip = topo.addrs.vips[0];
      const svc = `${vip}:80`;
      await lb.ipvsadmOk("-A", "-t", svc, "-s", "rr");
      for (const rs of topo.addrs.realServers) {
        await lb.ipvsadmOk("-a", "-t", svc, "-r", `${rs}:80`, "-b", "-w", "1");
      }
      const lips = topo.addrs.localAddrs.slice(0, 2);
      for (const l of lips) await lb.ipvsadmOk("-P", "-t", svc, "-z", l);
      for (let i = 0; i < 8; i++) {
        const r = await curl(topo.client, `http://${vip}/`);
        assert.equal(r.status, 200, r.stderr);
        assert.ok(lips.some((l) => r.body.includes(`peer ${l}:`)), r.body);
      }
      const raw = await table("raw");
      // Only the client's SYN is queued from raw (iptables prints --syn as its flags).
      assert.match(raw, /-p tcp -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN -j FULLNAT-C/);
      const mangle = await table("mangle");
      assert.match(mangle, /-A PREROUTING -j FULLNAT/);
      assert.match(mangle, /-A FULLNAT -m conntrack ! --ctstate INVALID -j RETURN/);
      assert.match(mangle, /-A FULLNAT-W1 -j NFQUEUE --queue-num \d+/);
      assert.match(await table("nat"), /-A POSTROUTING -j FULLNAT/);
      assert.equal(await sysctl("nf_conntrack_tcp_loose"), "0");
      assert.equal(await sysctl("nf_conntrack_acct"), "1");
      assert.equal(await sysctl("nf_conntrack_tcp_timeout_established"), "90");
      // Every packet after the SYN came back to the engine through the INVALID rule, in both
      // workers' queues; no session was handed over without a kernel port.
      const status = await lb.status() as unknown as {
        engine: Record<string, number>;
        offload: { problem: string | null };
        workers: { engine: Record<string, number> }[];
      };
      assert.equal(status.engine.offloaded, 0);
      assert.match(status.offload.problem ?? "", /ctnetlink module/);
      assert.ok(status.engine.forwarded >= 8 * 6, JSON.stringify(status.engine));
    } finally {
      code = await lb.stop();
    }
    assert.equal(code, 0, lb.log());
    assert.doesNotMatch(await table("mangle"), /FULLNAT/);
    assert.doesNotMatch(await table("nat"), /FULLNAT/);
    assert.doesNotMatch(await table("raw"), /FULLNAT/);
    assert.deepEqual({
      loose: await sysctl("nf_conntrack_tcp_loose"),
      acct: await sysctl("nf_conntrack_acct"),
      established: await sysctl("nf_conntrack_tcp_timeout_established"),
    }, before);
  } finally {
    await nginx.stop();
    await topo.destroy();
  }
});
