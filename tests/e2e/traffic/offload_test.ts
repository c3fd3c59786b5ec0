/**
 * End to end, the kernel fast path (`--offload established`) on 2 workers: only client SYNs
 * are queued from `raw`; the rest of TCP meets conntrack, and until a session is handed over
 * it is INVALID (loose pickup off) and reaches the queue from `mangle` with the per-worker
 * steering. A rate-limited 40 MB download is handed to the kernel mid-transfer (DNAT, SNAT,
 * seqadj) and arrives byte-identical; its entry's end frees the session; the conntrack
 * settings are set while it runs, and the stop leaves the tables, the entries and the
 * settings as they were.
 */
import assert from "node:assert/strict";
import { createTopology } from "../../../testkit/netns.ts";
import { curl, startNginx } from "../../../testkit/servers.ts";
import { startBalancer } from "../../../testkit/balancer.ts";
import { waitFor } from "../../../testkit/wait.ts";

interface OffloadStatus {
  sessions: number;
  engine: Record<string, number>;
  offload?: { step: Record<string, number>; problem: string | null };
}

Deno.test("e2e offload: a bulk download handed to conntrack mid-transfer; the stop undoes all", async () => {
  const topo = await createTopology({ prefix: "h15e", sweep: false });
  const nginx = await startNginx({
    netns: topo.rs,
    addrs: topo.addrs.realServers,
    bulkBytes: 40 << 20,
  });
  const sysctl = async (key: string) =>
    (await topo.exec("lb", ["cat", `/proc/sys/net/netfilter/${key}`])).stdout.trim();
  const table = async (t: string) =>
    (await topo.exec("lb", ["iptables", "-w", "-t", t, "-S"])).stdout;
  const ours = async () =>
    (await topo.exec("lb", ["conntrack", "-L", "-m", "0x80000000/0xc0000000"])).stdout.trim();
  try {
    const before = {
      loose: await sysctl("nf_conntrack_tcp_loose"),
      acct: await sysctl("nf_conntrack_acct"),
      established: await sysctl("nf_conntrack_tcp_timeout_established"),
    };
    const lb = await startBalancer(topo, ["--offload", "established", "--workers", "2"]);
    const status = () => lb.status() as unknown as Promise<OffloadStatus>;
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
      // Short connections: through the queue (INVALID path) as before.
      for (let i = 0; i < 6; i++) {
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

      // 40 MB at 10 MB/s: about 4 s, so the 100 ms offload step takes it mid-transfer.
      const t0 = performance.now();
      const got = await topo.exec("client", [
        "sh",
        "-c",
        `curl -sS --max-time 60 --limit-rate 10M http://${vip}${nginx.bulkPath} | sha256sum`,
      ]);
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(got.stdout.split(" ")[0], nginx.bulkSha256, got.stderr);
      const s = await status();
      assert.equal(s.offload?.problem, null, JSON.stringify(s.offload));
      assert.ok(s.engine.offloaded >= 1, JSON.stringify(s.engine));
      // The kernel's entry ends (FIN, then TIME_WAIT 7 s; a reconciling dump evicts it), and
      // with it the session.
      // Every offloaded session ends up gone with its entry, or taken back when it closed
      // through the queue (a short one offloaded as it closed).
      let last = "";
      await waitFor(async () => {
        const c = (await status()).engine;
        last = JSON.stringify(c);
        return c.offloadGone >= 1 && c.offloadGone + c.offloadRecalled === c.offloaded;
      }, {
        timeoutMs: 30_000,
        intervalMs: 500,
        what: "the offloaded entry's end",
      }).catch((e) => {
        throw new Error(`${e.message}; engine ${last}\nconntrack: ${lb.log()}`);
      });
      // No session outlives its connection: the handed-over one ended with its entry, the
      // short ones with the engine's own timers.
      await waitFor(async () => (await status()).sessions === 0, {
        timeoutMs: 20_000,
        intervalMs: 500,
        what: "every session's end",
      });
      const after = await status();
      // The service's counters add up: the engine's packets before the handover and the
      // kernel's after it, the 40 MB body among the server's bytes.
      const shown = await lb.cli("stats", "show", "--json");
      assert.equal(shown.code, 0, shown.stderr);
      const [svcStats] = JSON.parse(shown.stdout) as {
        stats: { conns: number; outBytes: number; inPackets: number; outPackets: number };
        realServers: { stats: { outBytes: number } }[];
      }[];
      assert.equal(svcStats.stats.conns, 7);
      assert.ok(svcStats.stats.outBytes > 40 << 20, JSON.stringify(svcStats.stats));
      assert.ok(svcStats.stats.outBytes < (40 << 20) * 1.1, JSON.stringify(svcStats.stats));
      assert.equal(
        svcStats.realServers.reduce((n, r) => n + r.stats.outBytes, 0),
        svcStats.stats.outBytes,
      );
      console.log(
        `offload e2e: 40 MB in ${seconds.toFixed(1)} s; engine ${
          JSON.stringify(
            Object.fromEntries(
              Object.entries(after.engine).filter(([k]) => k.startsWith("offload")),
            ),
          )
        }; step ${JSON.stringify(after.offload?.step)}`,
      );
    } finally {
      code = await lb.stop();
    }
    assert.equal(code, 0, lb.log());
    assert.equal(await ours(), "", "no entry of ours left");
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
