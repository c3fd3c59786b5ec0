/**
 * End to end, DR (ipvsadm `-g`, issue 17): the real daemon in `lb` forwards client packets
 * unchanged to a real server on its segment, by a mark and a policy route; the server holds the
 * VIP on `lo` (arp_ignore=1, arp_announce=2) and answers the client directly over a link of
 * their own (`testkit/direct_return.ts`). IPv4 and IPv6 HTTP and a 100 MB download come back
 * byte for byte, the server sees the client's own address, no reply crosses the balancer
 * (counted there), and the balancer's rules and routes after the daemon stops are what they
 * were before it started. It also prints bulk throughput and connections per second of DR
 * beside FULLNAT on the same boxes, for the record.
 */
import assert from "node:assert/strict";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { curl, type NginxServer, startNginx } from "../../../testkit/servers.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { addDirectReturn } from "../../../testkit/direct_return.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";
import { lbState } from "../../../testkit/lb_state.ts";
import { clientPort, errorReachesServer } from "../../../testkit/icmp_about_reply.ts";

const VIP_DR = "198.51.100.10";
const VIP_FN = "198.51.100.11";
const BULK = 100 << 20;

/** Counts packets from `vip`:80 arriving at the balancer (replies that should never come). */
async function replyCounter(
  topo: Topology,
  tool: string,
  vip: string,
): Promise<() => Promise<number>> {
  const rule = [
    "-s",
    vip,
    "-p",
    "tcp",
    "--sport",
    "80",
    "-m",
    "comment",
    "--comment",
    "dr-replies",
  ];
  await topo.exec("lb", [tool, "-w", "-t", "mangle", "-A", "PREROUTING", ...rule], { check: true });
  return async () => {
    const r = await topo.exec("lb", [tool, "-w", "-t", "mangle", "-nvxL", "PREROUTING"], {
      check: true,
    });
    const line = r.stdout.split("\n").find((l) => l.includes("/* dr-replies */"))!;
    return Number(line.trim().split(/\s+/)[0]);
  };
}

/** Seconds and bytes of one download through `url`, and its SHA-256. */
async function download(topo: Topology, url: string): Promise<{ sha: string; sec: number }> {
  const t0 = performance.now();
  const r = await topo.exec("client", ["sh", "-c", `curl -sg --max-time 120 '${url}' | sha256sum`]);
  assert.equal(r.code, 0, r.stderr);
  return { sha: r.stdout.split(" ")[0], sec: (performance.now() - t0) / 1000 };
}

/** Bits per second of one download through `url`, the body thrown away (no hashing cost). */
async function throughput(topo: Topology, url: string): Promise<number> {
  const r = await topo.exec("client", [
    "curl",
    "-sg",
    "--max-time",
    "120",
    "-o",
    "/dev/null",
    "-w",
    "%{speed_download}",
    url,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout) * 8;
}

/** New connections per second over `count` sequential requests to `url`. */
async function connRate(topo: Topology, url: string, count: number): Promise<number> {
  const t0 = performance.now();
  const r = await topo.exec("client", newConnectionsCommand(url, count, { maxTimeSec: 120 }));
  const sec = (performance.now() - t0) / 1000;
  const codes = r.stdout.trim().split("\n");
  assert.equal(codes.filter((c) => c === "200").length, count, r.stderr);
  return count / sec;
}

Deno.test("e2e DR: unchanged packets to a server on the segment, replies direct, rules restored", async () => {
  const topo = await createTopology({ ipv6: true, vips: [VIP_DR, VIP_FN] });
  const v6 = topo.addrs.v6!;
  const vip6 = v6.vips[0];
  const rs = topo.addrs.realServers[0];
  const rs6 = v6.realServers[0];
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  try {
    await addDirectReturn(topo, [VIP_DR, vip6]);
    // The VIPs for DR, the server's own address for FULLNAT.
    nginx = await startNginx({
      netns: topo.rs,
      addrs: [VIP_DR, `[${vip6}]`, rs],
      bulkBytes: BULK,
    });
    const before = await lbState(topo);
    lb = await startBalancer(topo);
    await lb.ipvsadmOk("-A", "-t", `${VIP_DR}:80`, "-s", "rr");
    // As ipvsadm does for -g, the port given is replaced by the service's.
    await lb.ipvsadmOk("-a", "-t", `${VIP_DR}:80`, "-r", `${rs}:8080`, "-g", "-w", "1");
    await lb.ipvsadmOk("-A", "-t", `[${vip6}]:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `[${vip6}]:80`, "-r", `[${rs6}]:80`, "-g", "-w", "1");
    await lb.ipvsadmOk("-A", "-t", `${VIP_FN}:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${VIP_FN}:80`, "-r", `${rs}:80`, "-b", "-w", "1");
    await lb.ipvsadmOk("-P", "-t", `${VIP_FN}:80`, "-z", topo.addrs.localAddrs[0]);
    const list = await lb.ipvsadmOk("-L", "-n");
    assert.match(list, new RegExp(`-> ${rs.replaceAll(".", "\\.")}:80\\s+Route\\s+1`), list);
    const saved = await lb.ipvsadmOk("-S", "-n");
    assert.ok(saved.includes(`-a -t ${VIP_DR}:80 -r ${rs}:80 -g -w 1\n`), saved);
    const rules = (await topo.exec("lb", ["ip", "rule", "show"])).stdout;
    assert.match(
      rules,
      /^0:\s+from all fwmark 0x[0-9a-f]+ lookup \d+\n0:\s+from all lookup local/m,
    );

    const replies4 = await replyCounter(topo, "iptables", VIP_DR);
    const replies6 = await replyCounter(topo, "ip6tables", vip6);

    for (const [vip, client] of [[VIP_DR, topo.addrs.client], [`[${vip6}]`, v6.client]]) {
      const r = await curl(topo.client, `http://${vip}/`, { args: ["-g"] });
      assert.equal(r.status, 200, r.stderr);
      assert.match(r.body, new RegExp(`peer \\[?${client.replaceAll(".", "\\.")}\\]?:`), r.body);
    }
    const log = await nginx.accessLog();
    assert.deepEqual(log.map((e) => e.remoteAddr), [topo.addrs.client, v6.client]);

    // A router's "fragmentation needed" / "packet too big" about a reply the server sent from
    // the VIP reaches the balancer, which routes it on to the server unchanged.
    const sessions = await lb.ipvsadmOk("-L", "-n", "-c");
    for (const [vip, client] of [[VIP_DR, topo.addrs.client], [vip6, v6.client]]) {
      const cport = clientPort(sessions, client, vip, 80);
      const arrived = await errorReachesServer(topo, { vip, vport: 80, client, cport }, "eth0");
      assert.equal(arrived.length, 1, `the error about ${vip}:80 -> ${client}:${cport} arrived`);
    }
    assert.equal((await lb.status()).engine.icmpErrorsRouted, 2);

    const dr = await download(topo, `http://${VIP_DR}${nginx.bulkPath}`);
    assert.equal(dr.sha, nginx.bulkSha256, "100 MB through DR byte for byte");
    const dr6 = await download(topo, `http://[${vip6}]${nginx.bulkPath}`);
    assert.equal(dr6.sha, nginx.bulkSha256, "100 MB through DR over IPv6 byte for byte");
    assert.equal(await replies4(), 0, "no IPv4 reply crossed the balancer");
    assert.equal(await replies6(), 0, "no IPv6 reply crossed the balancer");

    const status = await lb.status();
    assert.ok(status.engine.drRouted > 2 * (BULK / 1e6), `${status.engine.drRouted} marked`);
    assert.equal(status.queue.marked, status.engine.drRouted + status.engine.icmpErrorsRouted);

    // Side by side, for the record: FULLNAT carries both directions, DR only the client's.
    const fn = await download(topo, `http://${VIP_FN}${nginx.bulkPath}`);
    assert.equal(fn.sha, nginx.bulkSha256);
    const drBps = await throughput(topo, `http://${VIP_DR}${nginx.bulkPath}`);
    const dr6Bps = await throughput(topo, `http://[${vip6}]${nginx.bulkPath}`);
    const fnBps = await throughput(topo, `http://${VIP_FN}${nginx.bulkPath}`);
    const drCps = await connRate(topo, `http://${VIP_DR}/`, 300);
    const fnCps = await connRate(topo, `http://${VIP_FN}/`, 300);
    const mbit = (bps: number) => (bps / 1e6).toFixed(0);
    const hashed = (sec: number) => (BULK * 8 / sec / 1e6).toFixed(0);
    console.log(
      `DR vs FULLNAT (100 MB over one TCP stream, body discarded | hashed; ` +
        `300 sequential connections):\n` +
        `  DR       ${mbit(drBps)} | ${hashed(dr.sec)} Mbit/s (IPv6 ${mbit(dr6Bps)} | ` +
        `${hashed(dr6.sec)}), ${drCps.toFixed(0)} conn/s\n` +
        `  FULLNAT  ${mbit(fnBps)} | ${hashed(fn.sec)} Mbit/s, ${fnCps.toFixed(0)} conn/s`,
    );

    assert.equal(await lb.stop(), 0, lb.log());
    lb = undefined;
    await topo.exec("lb", ["iptables", "-w", "-t", "mangle", "-F", "PREROUTING"], { check: true });
    await topo.exec("lb", ["ip6tables", "-w", "-t", "mangle", "-F", "PREROUTING"], { check: true });
    assert.equal(await lbState(topo), before, "rules, routes and settings as before the daemon");
  } finally {
    await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
  }
});
