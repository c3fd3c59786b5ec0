/**
 * End to end on IPv6 (issue 4): the core FULLNAT scenarios of the IPv4 tests, with the VIP,
 * local addresses and real servers all in IPv6: HTTP through the VIP with the RS seeing only
 * local addresses, the IPv6 TOA (kind 254, length 20) in the SYN with the MSS lowered by 20,
 * UDP request/response, and ICMPv6 "packet too big" through a smaller-MTU router.
 */
import assert from "node:assert/strict";
import { startCapture } from "../../../testkit/capture.ts";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { curl, parseRootBody, sha256Hex } from "../../../testkit/servers.ts";
import {
  parseUdpReply,
  splitEndpoint,
  startUdpServer,
  udpRequests,
  udpTool,
} from "../../../testkit/udp.ts";
import { sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";

/** URL host text of an IPv6 address. */
const bracket = (a: string) => `[${a}]`;

/** The 16 bytes of an IPv6 address given as text (`::` allowed, no embedded IPv4). */
function v6Bytes(text: string): number[] {
  const [head, tail] = text.split("::");
  const groups = (s: string | undefined) => s ? s.split(":").map((g) => parseInt(g, 16)) : [];
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function v6Text(b: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Good enough for comparisons with the plan's addresses, which compress one zero run.
  return g.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** A TCP segment in an IPv6 packet without extension headers, as far as the tests need it. */
interface Tcp6 {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** SYN 0x02, ACK 0x10, ... */
  flags: number;
  /** Options as [kind, data bytes]; NOP and EOL left out. */
  options: [number, Uint8Array][];
}

function parseTcp6(p: Uint8Array): Tcp6 | undefined {
  if (p.length < 60 || p[0] >> 4 !== 6 || p[6] !== 6) return undefined;
  const t = p.subarray(40);
  const hl = (t[12] >> 4) * 4;
  const options: [number, Uint8Array][] = [];
  for (let i = 20; i < hl && i < t.length;) {
    const kind = t[i];
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = t[i + 1];
    if (len < 2) break;
    options.push([kind, t.slice(i + 2, i + len)]);
    i += len;
  }
  return {
    src: v6Text(p.subarray(8, 24)),
    dst: v6Text(p.subarray(24, 40)),
    sport: (t[0] << 8) | t[1],
    dport: (t[2] << 8) | t[3],
    flags: t[13],
    options,
  };
}

const SYN = 0x02;
const ACK = 0x10;
const mssOf = (s: Tcp6) => {
  const o = s.options.find(([k]) => k === 2);
  return o === undefined ? undefined : (o[1][0] << 8) | o[1][1];
};

Deno.test("e2e IPv6 FULLNAT: HTTP through an IPv6 VIP reaches every RS, which sees only IPv6 local addresses", async () => {
  await withFamilyBed({ ipv6: true, nginx: {} }, async ({ topo, lb, nginx }) => {
    const v6 = topo.addrs.v6!;
    const vip = v6.vips[0];
    const lips = v6.localAddrs.slice(0, 2);
    await addFullnatService(lb, "tcp", vip, 80, v6.realServers, lips);
    const direct = await topo.exec("rs", ["ip", "-6", "route", "get", v6.client]);
    assert.notEqual(direct.code, 0, "rs must have no IPv6 route to the client");

    const servers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await curl(topo.client, `http://${bracket(vip)}/`);
      assert.equal(r.status, 200, `${r.code} ${r.stderr}`);
      const body = parseRootBody(r.body);
      assert.ok(body, r.body);
      servers.add(body.server);
      assert.ok(lips.includes(body.peer), `RS saw ${body.peer}, not an IPv6 local address`);
    }
    assert.deepEqual([...servers].sort(), [...v6.realServers].sort(), "rr over all RSes");
    const log = await nginx!.accessLog();
    assert.equal(log.length, 6);
    assert.ok(log.every((e) => lips.includes(e.remoteAddr)), "access log: local addresses only");
    const status = await lb.status();
    assert.equal(status.engine.sessionsCreated, 6);
    assert.equal(status.queue.handlerErrors, 0);
    // The daemon turned IPv6 forwarding on (the topology pins it off), on every interface.
    for (const key of ["all", "eth0", "eth1"]) {
      const fwd = await topo.exec("lb", ["sysctl", "-n", `net.ipv6.conf.${key}.forwarding`]);
      assert.equal(fwd.stdout.trim(), "1", `net.ipv6.conf.${key}.forwarding`);
    }
  });
});

Deno.test("e2e IPv6 FULLNAT wire: TOA kind 254 length 20 in the SYN, MSS lowered by 20", async () => {
  await withFamilyBed({ ipv6: true, nginx: {} }, async ({ topo, lb }) => {
    const v6 = topo.addrs.v6!;
    const vip = v6.vips[0];
    await addFullnatService(lb, "tcp", vip, 80, [v6.realServers[0]], [v6.localAddrs[0]]);
    const atRs = await startCapture(topo.rs, "eth0", ["ip6", "and", "tcp", "port", "80"]);
    const atClient = await startCapture(topo.client, "eth0", ["ip6", "and", "tcp", "port", "80"]);
    const r = await curl(topo.client, `http://${bracket(vip)}/`);
    assert.equal(r.status, 200, `${r.code} ${r.stderr}`);
    const rsSide = (await atRs.stop()).map(parseTcp6).filter((s) => s !== undefined);
    const clientSide = (await atClient.stop()).map(parseTcp6).filter((s) => s !== undefined);

    const isSyn = (s: Tcp6) => (s.flags & (SYN | ACK)) === SYN;
    const isSynAck = (s: Tcp6) => (s.flags & (SYN | ACK)) === (SYN | ACK);
    const clientSyn = clientSide.find(isSyn)!;
    const rsSyn = rsSide.find(isSyn);
    assert.ok(rsSyn, "the SYN reached the RS");
    assert.equal(rsSyn.src, v6.localAddrs[0]);
    assert.equal(rsSyn.dst, v6.realServers[0]);
    const toa = rsSyn.options.find(([k]) => k === 254);
    assert.ok(toa, `no TOA in the RS's SYN: kinds ${rsSyn.options.map(([k]) => k)}`);
    assert.equal(toa[1].length + 2, 20, "IPv6 TOA length is 20");
    const port = (toa[1][0] << 8) | toa[1][1];
    assert.equal(port, clientSyn.sport, "TOA carries the client's port");
    assert.deepEqual([...toa[1].subarray(2)], v6Bytes(v6.client), "and its IPv6 address");
    assert.ok(!rsSyn.options.some(([k]) => k === 8), "timestamp removed");

    const rsSynAck = rsSide.find(isSynAck)!;
    const clientSynAck = clientSide.find(isSynAck);
    assert.ok(clientSynAck, "the SYN-ACK reached the client");
    assert.equal(clientSynAck.src, vip);
    assert.equal(mssOf(clientSynAck), mssOf(rsSynAck)! - 20, "MSS lowered by 20");
    console.log(
      `IPv6 wire: RS SYN-ACK MSS ${mssOf(rsSynAck)}, client saw ${mssOf(clientSynAck)}; ` +
        `TOA ${toa[0]}/${toa[1].length + 2}`,
    );
  });
});

Deno.test("e2e IPv6 UDP FULLNAT: requests from many ports, RS sees IPv6 local addresses, replies from the VIP", async () => {
  await withFamilyBed({ ipv6: true }, async ({ topo, lb }) => {
    const v6 = topo.addrs.v6!;
    const vip = v6.vips[0];
    const lips = v6.localAddrs.slice(0, 2);
    await addFullnatService(lb, "udp", vip, 53, v6.realServers, lips);
    const server = await startUdpServer(topo.rs, v6.realServers, 53);
    try {
      const n = 30;
      const { replies, errors } = await udpRequests(topo.client, vip, 53, n);
      assert.deepEqual(errors, []);
      assert.equal(replies.length, n);
      const servers = new Set<string>();
      for (const r of replies) {
        assert.equal(r.from, `${vip}:53`);
        const rep = parseUdpReply(r.body);
        assert.ok(rep, r.body);
        assert.ok(lips.includes(splitEndpoint(rep.peer).addr), rep.peer);
        servers.add(splitEndpoint(rep.server).addr);
      }
      assert.deepEqual([...servers].sort(), [...v6.realServers].sort());
      assert.equal(new Set(replies.map((r) => r.client)).size, n, "a new port each time");

      // A closed port: ICMPv6 port unreachable, translated back, is "connection refused".
      await addFullnatService(lb, "udp", vip, 54, [v6.realServers[0]], lips);
      assert.deepEqual(await udpTool(topo.client, ["refused", vip, "54"]), { result: "refused" });
    } finally {
      await server.stop();
    }
  });
});

Deno.test("e2e ICMPv6: 8 MB up and down through a 1400-byte router path complete byte-identical (packet too big through the balancer)", async () => {
  const bulkBytes = 8 << 20;
  // 1400, not 1280: IPv6 never takes a path MTU below 1280, so a 1280 path could never carry
  // a full segment plus the 20 bytes of IPv6 TOA.
  const mtu = 1400;
  await withFamilyBed(
    { ipv6: true, router: { mtu }, nginx: { bulkBytes } },
    async ({ topo, lb, nginx }) => {
      const v6 = topo.addrs.v6!;
      const vip = v6.vips[0];
      const rs = v6.realServers[0];
      const lips = [v6.localAddrs[0]];
      await addFullnatService(lb, "tcp", vip, 9000, [rs], lips);
      await addFullnatService(lb, "tcp", vip, 80, [rs], lips);
      await startHashServer(topo, "sink", rs, 9000);

      const up = await sendHashStream(topo, vip, 9000, bulkBytes, 11);
      assert.ok(up.sent, `upload did not complete ${up.output}`);
      assert.equal(up.got, up.sent, "the RS received exactly what the client sent");
      const route = await topo.exec("client", ["ip", "-6", "route", "get", vip]);
      const pmtu = Number(/ mtu (\d+)/.exec(route.stdout)?.[1]);
      assert.equal(pmtu, mtu - 20, `path MTU less the IPv6 TOA: ${route.stdout}`);

      const down = await curl(topo.client, `http://${bracket(vip)}${nginx!.bulkPath}`, {
        maxTimeSec: 60,
      });
      assert.equal(down.status, 200, down.stderr);
      assert.equal(sha256Hex(down.bytes), nginx!.bulkSha256);
      const status = await lb.status();
      assert.ok(status.engine.icmpErrorsTranslated >= 1, JSON.stringify(status.engine));
    },
  );
});
