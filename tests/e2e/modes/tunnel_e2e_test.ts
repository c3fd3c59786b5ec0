/**
 * End to end, TUNNEL mode (ipvsadm `-i`, issue 17): the real daemon in `lb` wraps client
 * packets in IPIP (IPv6 in IPv6) from its `--tunnel-source` to the real servers, which unwrap
 * them (testkit/tunnel_rs.ts: an `ipip`/`ip6tnl` device, or a user-space one where the kernel
 * has none), serve the VIP from `lo` and answer the client over a direct link that bypasses
 * the balancer. Checked: HTTP over IPv4 and IPv6, a 100 MB download byte-identical, the real
 * server seeing the client's own address, no reply crossing the balancer (counted there, with
 * FULLNAT's replies as the positive control), both tunnels used, and the balancer's rules and
 * routes after the daemon stops as they were before it started. Prints connections/s and
 * bulk throughput for TUNNEL and FULLNAT side by side, measured in the same run.
 */
import assert from "node:assert/strict";
import { startBalancer } from "../../../testkit/balancer.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { curl, parseRootBody, sha256Hex, startNginx } from "../../../testkit/servers.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";
import { setupTunnelRs } from "../../../testkit/tunnel_rs.ts";
import { lbState } from "../../../testkit/lb_state.ts";
import { clientPort, errorReachesServer } from "../../../testkit/icmp_about_reply.ts";

const BULK = 100 * 1000 * 1000;
const CONNS = 300;

/**
 * A counting rule at the top of lb's raw PREROUTING, before the daemon's diversion (later
 * tables see FULLNAT's replies already rewritten to come from the VIP); returns its reader
 * and remover.
 */
async function replyCounter(topo: Topology, v6: boolean, match: string[], comment: string) {
  const tool = v6 ? "ip6tables" : "iptables";
  const rule = ["PREROUTING", "-i", "eth1", ...match, "-m", "comment", "--comment", comment];
  await topo.exec(
    "lb",
    [tool, "-w", "-t", "raw", "-I", ...rule.slice(0, 1), "1", ...rule.slice(1)],
    {
      check: true,
    },
  );
  return {
    async count(): Promise<number> {
      const r = await topo.exec("lb", [tool, "-w", "-t", "raw", "-nvxL", "PREROUTING"], {
        check: true,
      });
      const line = r.stdout.split("\n").find((l) => l.includes(`/* ${comment} */`));
      assert.ok(line, `counter ${comment}`);
      return Number(line.trim().split(/\s+/)[0]);
    },
    async remove(): Promise<void> {
      await topo.exec("lb", [tool, "-w", "-t", "raw", "-D", ...rule], { check: true });
    },
  };
}

/** Seconds `cmd` takes in the client namespace; fails unless every status line is 200. */
async function timed(topo: Topology, cmd: string[], expect: number): Promise<number> {
  const t0 = performance.now();
  const r = await topo.exec("client", cmd);
  const s = (performance.now() - t0) / 1000;
  const codes = r.stdout.trim().split("\n");
  assert.equal(codes.filter((c) => c === "200").length, expect, r.stderr);
  return s;
}

/** Four requests to each `[url, client]`: all 200, and the real server saw the client itself. */
async function clientSeen(topo: Topology, pairs: [string, string][]): Promise<void> {
  for (const [url, client] of pairs) {
    for (let i = 0; i < 4; i++) {
      const r = await curl(topo.client, url);
      assert.equal(r.status, 200, r.stderr);
      const body = parseRootBody(r.body);
      assert.ok(body, r.body);
      assert.equal(body.peer, client, `the real server saw ${body.peer}, not the client`);
    }
  }
}

/** Seconds to download the bulk file through `url`, checked whole and byte-identical. */
async function bulkSeconds(topo: Topology, url: string, sha: string): Promise<number> {
  const t0 = performance.now();
  const r = await curl(topo.client, url, { maxTimeSec: 120 });
  const s = (performance.now() - t0) / 1000;
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.bytes.length, BULK);
  assert.equal(sha256Hex(r.bytes), sha);
  return s;
}

Deno.test("e2e TUNNEL: IPIP and IPv6-in-IPv6 to the real servers, replies bypass the balancer", async () => {
  const topo = await createTopology({ ipv6: true });
  const a = topo.addrs;
  const v6 = a.v6!;
  const vip = a.vips[0];
  const vip6 = v6.vips[0];
  const [rs1, rs2, rs3] = a.realServers;
  const [rs61, rs62] = v6.realServers;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  let tun: Awaited<ReturnType<typeof setupTunnelRs>> | undefined;
  let lb: Awaited<ReturnType<typeof startBalancer>> | undefined;
  try {
    tun = await setupTunnelRs(topo, {
      source4: a.lbB,
      source6: v6.lbB,
      vips: [vip, vip6],
      servers4: [rs1, rs2],
      servers6: [rs61, rs62],
    });
    // The VIPs (TUNNEL) and rs3 (FULLNAT, for the side-by-side figures).
    nginx = await startNginx({
      netns: topo.rs,
      addrs: [vip, `[${vip6}]`, rs3],
      bulkBytes: BULK,
      startTimeoutMs: 30_000,
    });
    const before = await lbState(topo);
    lb = await startBalancer(topo, ["--tunnel-source", a.lbB, "--tunnel-source", v6.lbB]);
    const replies4 = await replyCounter(topo, false, ["-s", vip], "tunnel-replies");
    const replies6 = await replyCounter(topo, true, ["-s", vip6], "tunnel-replies6");
    const fullnatReplies = await replyCounter(topo, false, ["-s", rs3], "fullnat-replies");
    for (
      const line of [
        `-A -t ${vip}:80 -s rr`,
        `-a -t ${vip}:80 -r ${rs1}:80 -i`,
        `-a -t ${vip}:80 -r ${rs2} -i -w 1`,
        `-A -t [${vip6}]:80 -s rr`,
        `-a -t [${vip6}]:80 -r [${rs61}]:80 -i`,
        `-a -t [${vip6}]:80 -r [${rs62}]:80 -i`,
        `-A -t ${vip}:8080 -s rr`,
        `-a -t ${vip}:8080 -r ${rs3}:80 -b`,
        `-P -t ${vip}:8080 -z ${a.localAddrs[0]}`,
      ]
    ) await lb.ipvsadmOk(...line.split(" "));
    const listed = await lb.ipvsadmOk("-L", "-n");
    assert.match(listed, new RegExp(`-> ${rs1.replaceAll(".", "\\.")}:80 +Tunnel `));

    // HTTP: the real server answers from the VIP and sees the client itself.
    await clientSeen(topo, [[`http://${vip}/`, a.client], [`http://[${vip6}]/`, v6.client]]);
    // An error about a reply the server sent from the VIP goes to it wrapped, unchanged.
    const sessions = await lb.ipvsadmOk("-L", "-n", "-c");
    for (const [v, client] of [[vip, a.client], [vip6, v6.client]]) {
      const cport = clientPort(sessions, client, v, 80);
      const arrived = await errorReachesServer(topo, { vip: v, vport: 80, client, cport }, "any");
      assert.equal(arrived.length, 1, `the error about ${v}:80 -> ${client}:${cport} arrived`);
    }
    assert.equal((await lb.status()).engine.icmpErrorsTunnelled, 2);
    // 100 MB byte-identical, through each mode.
    const bulk = (url: string) => bulkSeconds(topo, url, nginx!.bulkSha256);
    const bulkTun = await bulk(`http://${vip}${nginx.bulkPath}`);
    const bulkTun6 = await bulk(`http://[${vip6}]${nginx.bulkPath}`);
    const bulkFull = await bulk(`http://${vip}:8080${nginx.bulkPath}`);
    // New connections, one after the other, through each mode.
    const cpsTun = CONNS / await timed(topo, newConnectionsCommand(`http://${vip}/`, CONNS), CONNS);
    const cpsFull = CONNS /
      await timed(topo, newConnectionsCommand(`http://${vip}:8080/`, CONNS), CONNS);

    assert.equal(await replies4.count(), 0, "no IPv4 reply from the VIP crossed the balancer");
    assert.equal(await replies6.count(), 0, "no IPv6 reply from the VIP crossed the balancer");
    assert.ok(await fullnatReplies.count() > 1000, "FULLNAT's replies are counted there");
    const st = await lb.status();
    assert.ok(st.engine.tunnelEncapsulated > 1000, JSON.stringify(st.engine));
    assert.equal(st.engine.tunnelReplySeen, 0);
    assert.equal(st.engine.tunnelNoSource, 0);
    const conns = await lb.ipvsadmOk("-L", "-n", "-c");
    assert.match(conns, new RegExp(`${a.client.replaceAll(".", "\\.")}:\\d+ +${vip}:80 `));

    await replies4.remove();
    await replies6.remove();
    await fullnatReplies.remove();
    const code = await lb.stop();
    lb = undefined;
    assert.equal(code, 0);
    assert.equal(await lbState(topo), before, "rules and routes after stop as before start");

    const unwrapped = await tun.unwrapped();
    for (const s of [rs1, rs2, rs61, rs62]) {
      assert.ok((unwrapped[s] ?? 0) > 0, `tunnel to ${s} used: ${JSON.stringify(unwrapped)}`);
    }
    const log = await nginx.accessLog();
    const viaTunnel = log.filter((e) => e.remoteAddr === a.client || e.remoteAddr === v6.client);
    assert.ok(viaTunnel.length >= 8 + 2 + CONNS, `${viaTunnel.length} requests from the client`);
    const mbps = (s: number) => ((BULK * 8) / s / 1e6).toFixed(0);
    console.log(
      `TUNNEL vs FULLNAT (${tun.kind} decapsulation on the RS), same run:\n` +
        `  bulk 100 MB down: TUNNEL ${mbps(bulkTun)} Mbit/s (IPv6 ${mbps(bulkTun6)}), ` +
        `FULLNAT ${mbps(bulkFull)} Mbit/s\n` +
        `  new connections: TUNNEL ${cpsTun.toFixed(0)}/s, FULLNAT ${cpsFull.toFixed(0)}/s`,
    );
  } finally {
    await lb?.stop();
    await tun?.stop().catch(() => {});
    await nginx?.stop();
    await topo.destroy();
  }
});

Deno.test("e2e TUNNEL gue and gre: UDP and GRE encapsulation to the real servers, with and without checksums", async () => {
  const topo = await createTopology({ ipv6: true });
  const a = topo.addrs;
  const v6 = a.v6!;
  const vip = a.vips[0];
  const vip6 = v6.vips[0];
  const [rs1, rs2] = a.realServers;
  const [rs61, rs62] = v6.realServers;
  const GUE_PORT = 6080;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  let tun: Awaited<ReturnType<typeof setupTunnelRs>> | undefined;
  let lb: Awaited<ReturnType<typeof startBalancer>> | undefined;
  try {
    tun = await setupTunnelRs(topo, {
      source4: a.lbB,
      source6: v6.lbB,
      vips: [vip, vip6],
      servers4: [rs1, rs2],
      servers6: [rs61, rs62],
      encap: { guePort: GUE_PORT, gre: true },
    });
    nginx = await startNginx({
      netns: topo.rs,
      addrs: [vip, `[${vip6}]`],
      bulkBytes: BULK,
      startTimeoutMs: 30_000,
    });
    const before = await lbState(topo);
    lb = await startBalancer(topo, ["--tunnel-source", a.lbB, "--tunnel-source", v6.lbB]);
    const replies4 = await replyCounter(topo, false, ["-s", vip], "encap-replies");
    const replies6 = await replyCounter(topo, true, ["-s", vip6], "encap-replies6");
    for (
      const line of [
        `-A -t ${vip}:80 -s rr`,
        `-a -t ${vip}:80 -r ${rs1} -i --tun-type gue --tun-port ${GUE_PORT}`,
        `-a -t ${vip}:80 -r ${rs2} -i --tun-type gre --tun-csum`,
        `-A -t [${vip6}]:80 -s rr`,
        `-a -t [${vip6}]:80 -r [${rs61}]:80 -i --tun-type gue --tun-port ${GUE_PORT} --tun-csum`,
        `-a -t [${vip6}]:80 -r [${rs62}]:80 -i --tun-type gre`,
      ]
    ) await lb.ipvsadmOk(...line.split(" "));
    const info = await lb.ipvsadmOk("-L", "-n", "--tun-info");
    assert.match(info, new RegExp(`-> ${rs1.replaceAll(".", "\\.")}:80 +Tunnel +gue:6080:-c `));
    assert.match(info, new RegExp(`-> ${rs2.replaceAll(".", "\\.")}:80 +Tunnel +gre:\\+c `));

    // HTTP through each server of each family (rr alternates): the server sees the client.
    await clientSeen(topo, [[`http://${vip}/`, a.client], [`http://[${vip6}]/`, v6.client]]);
    // 100 MB byte-identical through each IPv4 server (gue, then gre with its checksum), and
    // one through IPv6 gue with the UDP checksum.
    const bulk = (url: string) => bulkSeconds(topo, url, nginx!.bulkSha256);
    const bulkGue = await bulk(`http://${vip}${nginx.bulkPath}`);
    const bulkGre = await bulk(`http://${vip}${nginx.bulkPath}`);
    const bulkGue6 = await bulk(`http://[${vip6}]${nginx.bulkPath}`);

    assert.equal(await replies4.count(), 0, "no IPv4 reply from the VIP crossed the balancer");
    assert.equal(await replies6.count(), 0, "no IPv6 reply from the VIP crossed the balancer");
    const st = await lb.status();
    assert.ok(st.engine.tunnelEncapsulated > 1000, JSON.stringify(st.engine));
    await replies4.remove();
    await replies6.remove();
    assert.equal(await lb.stop(), 0);
    lb = undefined;
    assert.equal(await lbState(topo), before, "rules, routes and settings after stop as before");

    const unwrapped = await tun.unwrapped();
    const kinds = await tun.kinds();
    for (const s of [rs1, rs2, rs61, rs62]) {
      assert.ok((unwrapped[s] ?? 0) > 0, `tunnel to ${s} used: ${JSON.stringify(unwrapped)}`);
    }
    assert.ok((kinds.gue ?? 0) > 100 && (kinds.gre ?? 0) > 100, JSON.stringify(kinds));
    assert.equal(kinds.ipip ?? 0, 0, "nothing went out as plain IPIP");
    const mbps = (s: number) => ((BULK * 8) / s / 1e6).toFixed(0);
    console.log(
      `TUNNEL encapsulations (user-space decapsulation on the RS), 100 MB down:\n` +
        `  gue ${mbps(bulkGue)} Mbit/s, gre+csum ${mbps(bulkGre)} Mbit/s, ` +
        `IPv6 gue+csum ${mbps(bulkGue6)} Mbit/s`,
    );
  } finally {
    await lb?.stop();
    await tun?.stop().catch(() => {});
    await nginx?.stop();
    await topo.destroy();
  }
});
