/**
 * End to end, one service with a real server in each forwarding method (issue 17, "modes mix
 * per real server within one service, as in IPVS"): FULLNAT, NAT (`-m`), DR (`-g`) and
 * TUNNEL (`-i`) behind one VIP, round robin, set up with `fullnat ipvsadm` as an operator
 * would; the same again over IPv6. All four live in the topology's one `rs` namespace, each
 * an nginx of its own:
 *
 * - FULLNAT on 203.0.113.11 / 2001:db8:b::11 (replies to the local address, on the segment);
 * - NAT on .12 / ::12, whose replies a policy rule sends back through the balancer (a real
 *   NAT server's default route), while the others answer the client directly;
 * - DR on .13 / ::13: the VIPs on `lo`, ARP settings and the direct return link
 *   (`direct_return.ts`);
 * - TUNNEL on .14 / ::14: the same plus IPIP and IPv6-in-IPv6 tunnels (`tunnel_rs.ts`). DR
 *   and TUNNEL both serve the VIP in one namespace, so what arrives unwrapped from a tunnel
 *   is redirected (DNAT on the server) to the VIP's port 8081, where TUNNEL's nginx listens.
 *
 * Checked per family: new connections spread evenly over the four, each answer names its
 * server and the peer it saw (the local address for FULLNAT, the client for the others),
 * every access log agrees, `ipvsadm -L -n` shows FullNat, Masq, Route and Tunnel, a 10 MB
 * download from each server is byte-identical; the DR and tunnel counters moved, and after
 * the daemon stops the balancer's rules and routes are what they were before it started.
 */
import assert from "node:assert/strict";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { createTopology } from "../../../testkit/netns.ts";
import {
  curl,
  type NginxServer,
  parseRootBody,
  sha256Hex,
  startNginx,
} from "../../../testkit/servers.ts";
import { setupTunnelRs, type TunnelRealServer } from "../../../testkit/tunnel_rs.ts";
import { lbState } from "../../../testkit/lb_state.ts";

const BULK = 10 << 20;
const REQUESTS = 40;
/** The port the TUNNEL server's nginx listens on (see the module doc). */
const TUN_PORT = 8081;
/** The NAT server's routing table for replies through the balancer. */
const NAT_TABLE = "100";

type Mode = "fullnat" | "nat" | "dr" | "tunnel";

Deno.test("e2e mixed modes: FULLNAT, NAT, DR and TUNNEL real servers in one service", async () => {
  // IPv6 too; it also turns DAD off, so no link-local route appears during the test.
  const topo = await createTopology({ rsCount: 4, ipv6: true });
  const a = topo.addrs;
  const v6 = a.v6!;
  const [rsFn, rsNat, rsDr, rsTun] = a.realServers;
  const [rs6Fn, rs6Nat, rs6Dr, rs6Tun] = v6.realServers;
  const families = [
    { vip: a.vips[0], host: a.vips[0], lip: a.localAddrs[0], client: a.client },
    { vip: v6.vips[0], host: `[${v6.vips[0]}]`, lip: v6.localAddrs[0], client: v6.client },
  ];
  const modeOf: Record<Mode, { rs: [string, string]; flag: string; forward: string }> = {
    fullnat: { rs: [rsFn, rs6Fn], flag: "-b", forward: "FullNat" },
    nat: { rs: [rsNat, rs6Nat], flag: "-m", forward: "Masq" },
    dr: { rs: [rsDr, rs6Dr], flag: "-g", forward: "Route" },
    tunnel: { rs: [rsTun, rs6Tun], flag: "-i", forward: "Tunnel" },
  };
  const modes = Object.keys(modeOf) as Mode[];
  const nginx: Partial<Record<Mode, NginxServer>> = {};
  let tun: TunnelRealServer | undefined;
  let lb: Balancer | undefined;
  try {
    tun = await setupTunnelRs(topo, {
      source4: a.lbB,
      source6: v6.lbB,
      vips: families.map((f) => f.vip),
      servers4: [rsTun],
      servers6: [rs6Tun],
    });
    const rs = (...cmd: string[]) => topo.exec("rs", cmd, { check: true });
    for (const [fam, via, from] of [["-4", a.lbB, rsNat], ["-6", v6.lbB, rs6Nat]]) {
      await rs("ip", fam, "rule", "add", "from", from, "lookup", NAT_TABLE);
      await rs("ip", fam, "route", "add", "default", "via", via, "table", NAT_TABLE);
    }
    for (const dev of tun.ifaces) {
      for (const [tool, f] of [["iptables", families[0]], ["ip6tables", families[1]]] as const) {
        await rs(
          ...[tool, "-w", "-t", "nat", "-A", "PREROUTING", "-i", dev, "-p", "tcp", "-d", f.vip],
          ...["--dport", "80", "-j", "DNAT", "--to-destination", `${f.host}:${TUN_PORT}`],
        );
      }
    }
    // Where each nginx listens; nginx's `$server_addr` writes IPv6 without brackets.
    const listen: Record<Mode, [string[], number]> = {
      fullnat: [[rsFn, rs6Fn], 80],
      nat: [[rsNat, rs6Nat], 80],
      dr: [[a.vips[0], v6.vips[0]], 80],
      tunnel: [[a.vips[0], v6.vips[0]], TUN_PORT],
    };
    await Promise.all(modes.map(async (m) => {
      const [addrs, port] = listen[m];
      nginx[m] = await startNginx({
        netns: topo.rs,
        addrs: addrs.map((x) => x.includes(":") ? `[${x}]` : x),
        port,
        bulkBytes: BULK,
      });
    }));
    const byServer = new Map(
      modes.flatMap((m) => listen[m][0].map((x) => [`${x}:${listen[m][1]}`, m] as const)),
    );

    const before = await lbState(topo);
    lb = await startBalancer(topo, ["--tunnel-source", a.lbB, "--tunnel-source", v6.lbB]);
    for (const [i, f] of families.entries()) {
      const svc = `${f.host}:80`;
      await lb.ipvsadmOk("-A", "-t", svc, "-s", "rr");
      for (const m of modes) {
        const r = modeOf[m].rs[i];
        const real = i === 0 ? `${r}:80` : `[${r}]:80`;
        await lb.ipvsadmOk("-a", "-t", svc, "-r", real, modeOf[m].flag, "-w", "1");
      }
      await lb.ipvsadmOk("-P", "-t", svc, "-z", f.lip);
    }
    const listed = await lb.ipvsadmOk("-L", "-n");
    for (const m of modes) {
      for (const [i, r] of modeOf[m].rs.entries()) {
        const real = (i === 0 ? `${r}:80` : `[${r}]:80`).replace(/[.[\]]/g, "\\$&");
        assert.match(listed, new RegExp(`-> ${real} +${modeOf[m].forward} +1 `), listed);
      }
    }

    // New connections, one after the other: each answer names its server and the peer seen,
    // the local address for FULLNAT, the client's own for the others.
    const peers: Record<Mode, string[]> = { fullnat: [], nat: [], dr: [], tunnel: [] };
    for (const f of families) {
      const hits: Record<Mode, number> = { fullnat: 0, nat: 0, dr: 0, tunnel: 0 };
      for (let i = 0; i < REQUESTS; i++) {
        const r = await curl(topo.client, `http://${f.host}/`, { args: ["-g"] });
        assert.equal(r.status, 200, `${f.vip} request ${i}: ${r.stderr}`);
        const body = parseRootBody(r.body);
        assert.ok(body, r.body);
        const m = byServer.get(`${body.server}:${body.serverPort}`);
        assert.ok(m, `answered by an unknown server: ${r.body}`);
        const peer = m === "fullnat" ? f.lip : f.client;
        assert.equal(body.peer, peer, `${m} saw ${body.peer}`);
        peers[m].push(peer);
        hits[m]++;
      }
      for (const m of modes) {
        assert.ok(hits[m] >= REQUESTS / 4 - 2, `uneven on ${f.vip}: ${JSON.stringify(hits)}`);
      }
    }
    for (const m of modes) {
      const log = await nginx[m]!.accessLog();
      assert.deepEqual(log.map((e) => e.remoteAddr), peers[m], `${m}'s access log`);
    }

    // 10 MB through each: round robin hands four downloads in a row to four servers.
    const bulks = async (m: Mode) =>
      (await nginx[m]!.accessLog()).filter((e) => e.path === nginx[m]!.bulkPath).length;
    for (const f of families) {
      const served = new Set<Mode>();
      for (let i = 0; i < modes.length; i++) {
        const counts = await Promise.all(modes.map(bulks));
        const r = await curl(topo.client, `http://${f.host}${nginx.dr!.bulkPath}`, {
          args: ["-g"],
          maxTimeSec: 60,
        });
        assert.equal(r.status, 200, r.stderr);
        assert.equal(r.bytes.length, BULK);
        const after = await Promise.all(modes.map(bulks));
        const by = modes.filter((_, j) => after[j] > counts[j]);
        assert.equal(by.length, 1, `download ${i} from ${f.vip} served by ${by}`);
        assert.equal(sha256Hex(r.bytes), nginx[by[0]]!.bulkSha256, `10 MB via ${by[0]}`);
        served.add(by[0]);
      }
      assert.equal(served.size, 4, `${f.vip}: ${[...served]}`);
    }

    const st = await lb.status();
    assert.ok(st.engine.drRouted > 0, JSON.stringify(st.engine));
    assert.ok(st.engine.tunnelEncapsulated > 0, JSON.stringify(st.engine));

    const code = await lb.stop();
    lb = undefined;
    assert.equal(code, 0);
    assert.equal(await lbState(topo), before, "rules and routes after stop as before start");
    const unwrapped = await tun.unwrapped();
    for (const r of [rsTun, rs6Tun]) {
      assert.ok((unwrapped[r] ?? 0) > 0, `tunnel to ${r} used: ${JSON.stringify(unwrapped)}`);
    }
  } finally {
    await lb?.stop();
    await tun?.stop().catch(() => {});
    await Promise.all(Object.values(nginx).map((n) => n.stop()));
    await topo.destroy();
  }
});
