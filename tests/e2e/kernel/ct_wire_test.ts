/**
 * TCP through a conntrack entry made by `src/kernel/conntrack` with a non-zero sequence delta,
 * on the wire: client, balancer and real server namespaces; the handshake relayed by
 * `ct_handshake.py` (as the engine would: client ISN + delta towards the server), the entry
 * created between the SYN-ACK and the client's third ACK, then 2 MB up and 200 KB down with
 * every 8th data packet dropped at the server (so it sends SACKs), captured at both ends.
 */
import assert from "node:assert/strict";
import { LinePeer } from "../../../testkit/line_peer.ts";
import { createTopology } from "../../../testkit/netns.ts";
import { startCapture } from "../../../testkit/capture.ts";
import { startUdpServer, type UdpServer } from "../../../testkit/udp.ts";
import type { CtEntry } from "../../../src/kernel/conntrack/types.ts";

const PROBE = new URL("./conntrack_probe.ts", import.meta.url).pathname;
const HANDSHAKE = new URL("./ct_handshake.py", import.meta.url).pathname;
const PEERS = new URL("./ct_peers.py", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

/** What the test reads of a captured IPv4 TCP packet. */
interface Seg {
  id: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  len: number;
  sack: Array<[number, number]>;
  /** The payload bytes the capture kept (snap length 256). */
  head: Uint8Array;
}

function ip4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function parseSeg(p: Uint8Array): Seg | undefined {
  if (p.length < 40 || p[0] >> 4 !== 4 || p[9] !== 6) return undefined;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const ihl = (p[0] & 15) * 4;
  const total = v.getUint16(2);
  const doff = (p[ihl + 12] >> 4) * 4;
  const sack: Array<[number, number]> = [];
  for (let o = ihl + 20; o < ihl + doff && o < p.length;) {
    const kind = p[o];
    if (kind === 0) break;
    if (kind === 1) {
      o++;
      continue;
    }
    const l = p[o + 1];
    if (l < 2) break;
    if (kind === 5) {
      for (let q = o + 2; q + 8 <= o + l; q += 8) sack.push([v.getUint32(q), v.getUint32(q + 4)]);
    }
    o += l;
  }
  return {
    id: v.getUint16(4),
    src: ip4(p, 12),
    dst: ip4(p, 16),
    sport: v.getUint16(ihl),
    dport: v.getUint16(ihl + 2),
    seq: v.getUint32(ihl + 4),
    ack: v.getUint32(ihl + 8),
    flags: p[ihl + 13],
    len: total - ihl - doff,
    sack,
    head: p.subarray(ihl + doff),
  };
}

const SYN = 0x02;
const ACK = 0x10;
const u32 = (n: number) => n >>> 0;

async function json(peer: LinePeer, timeoutMs = 20_000): Promise<Json> {
  const out = JSON.parse((await peer.expect(/\{.*\}/, timeoutMs))[0]);
  if (out.error !== undefined) throw new Error(out.error);
  return out;
}

Deno.test("conntrack wire: an ESTABLISHED entry with a sequence delta carries TCP both ways (seq, ack and SACK shifted)", async () => {
  const topo = await createTopology({ prefix: "fnctw", lbForwarding: true });
  const peers: LinePeer[] = [];
  try {
    const { client, vips, localAddrs, realServers } = topo.addrs;
    const vip = vips[0];
    const lip = localAddrs[0];
    const rs = realServers[0];
    const lport = 5000;
    const delta = -1640531527; // 0x9e3779b9 as a signed 32-bit value: the shift wraps around
    const lb = async (...cmd: string[]) => await topo.exec("lb", cmd, { check: true });
    for (
      const s of [
        "net.netfilter.nf_conntrack_tcp_loose=0",
        "net.netfilter.nf_conntrack_acct=1",
        "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.eth0.rp_filter=0",
        "net.ipv4.conf.eth1.rp_filter=0",
      ]
    ) await lb("sysctl", "-qw", s);
    // The handshake is the relay's: the client's SYN never reaches conntrack (as the design's
    // raw-table notrack + queue), and the server's SYN-ACK, with no entry yet, is INVALID.
    await lb(
      "iptables",
      "-t",
      "raw",
      "-A",
      "PREROUTING",
      "-p",
      "tcp",
      "--syn",
      "-d",
      vip,
      "--dport",
      "80",
      "-j",
      "DROP",
    );
    await lb(
      "iptables",
      "-t",
      "mangle",
      "-A",
      "PREROUTING",
      "-m",
      "conntrack",
      "--ctstate",
      "INVALID",
      "-j",
      "DROP",
    );
    await lb("iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "RETURN");
    const mac = async (role: "client" | "lb" | "rs", dev: string) =>
      JSON.parse(
        (await topo.exec(role, ["ip", "-j", "link", "show", dev], { check: true })).stdout,
      )[0]
        .address as string;
    const macs = [
      await mac("lb", "eth0"),
      await mac("client", "eth0"),
      await mac("lb", "eth1"),
      await mac("rs", "eth0"),
    ];

    const probe = new LinePeer(
      topo.spawn("lb", [Deno.execPath(), "run", "-A", PROBE], { stdin: "piped", stdout: "piped" }),
    );
    peers.push(probe);
    await probe.expect(/\{"ready":true\}/, 20_000);
    const server = new LinePeer(
      topo.spawn("rs", ["/usr/bin/python3", "-u", PEERS, "server", rs, "8080", "200000"], {
        stdin: "piped",
        stdout: "piped",
      }),
    );
    peers.push(server);
    await json(server);
    const capC = await startCapture(topo.client, "eth0", ["tcp", "port", "80"]);
    const capR = await startCapture(topo.rs, "eth0", ["tcp", "port", "8080"]);
    const relay = new LinePeer(
      topo.spawn("lb", [
        "/usr/bin/python3",
        "-u",
        HANDSHAKE,
        vip,
        "80",
        lip,
        String(lport),
        rs,
        "8080",
        String(delta),
        ...macs,
      ], {
        stdin: "piped",
        stdout: "piped",
      }),
    );
    peers.push(relay);
    await json(relay);
    const cl = new LinePeer(
      topo.spawn("client", ["/usr/bin/python3", "-u", PEERS, "client", vip, "80", "2000000"], {
        stdin: "piped",
        stdout: "piped",
      }),
    );
    peers.push(cl);

    const hs = await json(relay);
    assert.equal(u32(hs.ack), u32(hs.cisn + delta + 1), "the server acknowledged the shifted ISN");
    const created = await json(
      await probe.say(JSON.stringify({
        op: "create",
        entries: [{
          orig: { protocol: "tcp", src: client, dst: vip, srcPort: hs.cport, dstPort: 80 },
          dnat: { address: rs, port: 8080 },
          snat: { address: lip, port: lport },
          seqAdjOrig: { correctionPos: hs.cisn, offsetBefore: delta, offsetAfter: delta },
          tcp: {
            wscaleOriginal: hs.wscaleC ?? 0,
            wscaleReply: hs.wscaleS ?? 0,
            windowScale: hs.wscaleC !== null && hs.wscaleS !== null,
            sackPermitted: hs.sackC && hs.sackS,
          },
          timeout: 120,
          mark: 0x1234,
        }],
      })).then(() => probe),
    );
    assert.equal(created.results[0].ok, true, JSON.stringify(created));
    // Loss at the server's input (no netem in this kernel): every 8th data packet (a GSO packet
    // of many segments), from the 3rd on, so there are always holes and the server SACKs.
    await topo.exec("rs", [
      "iptables",
      "-A",
      "INPUT",
      "-i",
      "eth0",
      "-p",
      "tcp",
      "--dport",
      "8080",
      "-m",
      "length",
      "--length",
      "200:65535",
      "-m",
      "statistic",
      "--mode",
      "nth",
      "--every",
      "8",
      "--packet",
      "2",
      "-j",
      "DROP",
    ], { check: true });
    await relay.say("go");
    await json(relay);

    const done = await json(cl, 60_000);
    assert.deepEqual(
      done,
      { digestOk: true, replyOk: true, replyBytes: 200000 },
      "both directions byte-identical",
    );
    const got = await json(server, 10_000);
    assert.deepEqual(got, { peer: [lip, lport], received: 2000000 }, "the server saw LIP:lport");

    const entries: CtEntry[] = (await json(
      await probe.say(JSON.stringify({ op: "dump", mark: 0x1234, mask: 0xffffffff })).then(() =>
        probe
      ),
    )).entries;
    assert.equal(entries.length, 1);
    const e = entries[0];
    // GSO packets: few, large. The kernel tracked the close (TIME_WAIT) on its own.
    assert.ok(BigInt(e.countersOrig!.bytes) > 2000000n, JSON.stringify(e));
    assert.equal(e.tcpState, 7, "TIME_WAIT after both FINs went through the entry");
    assert.ok(BigInt(e.countersReply!.bytes) > 200000n, JSON.stringify(e));

    const c = (await capC.stop()).map(parseSeg).filter((s) => s !== undefined);
    const r = (await capR.stop()).map(parseSeg).filter((s) => s !== undefined);
    const up = (s: Seg) => s.src === client && s.dport === 80;
    const down = (s: Seg) => s.src === vip && s.dst === client;
    const upR = (s: Seg) => s.src === lip && s.sport === lport;
    const downR = (s: Seg) => s.src === rs && s.dst === lip;
    const byId = (list: Seg[]) => {
      const m = new Map<number, Seg[]>();
      for (const s of list) m.set(s.id, [...(m.get(s.id) ?? []), s]);
      return m;
    };
    // Client to server: every packet the server got is one the client sent, seq + delta.
    const sent = byId(c.filter(up));
    let upMatched = 0;
    for (const s of r.filter(upR)) {
      if (s.flags & SYN) continue; // the relay's
      const twin = sent.get(s.id)?.find((x) => x.len === s.len && u32(x.seq + delta) === s.seq);
      assert.ok(twin, `no client packet for server-side seq ${s.seq} id ${s.id}`);
      assert.equal(twin.ack, s.ack, "the client's ack is not shifted (no reply delta)");
      assert.deepEqual(twin.head, s.head, "same payload");
      upMatched++;
    }
    // Server to client: every packet the client got is one the server sent, ack - delta,
    // SACK edges - delta.
    const back = byId(r.filter(downR));
    let downMatched = 0;
    let sackBlocks = 0;
    for (const s of c.filter(down)) {
      if (s.flags & SYN) continue; // the relay's SYN-ACK
      const twin = back.get(s.id)?.find((x) => x.len === s.len && x.seq === s.seq);
      assert.ok(twin, `no server packet for client-side seq ${s.seq} id ${s.id}`);
      if (s.flags & ACK) assert.equal(s.ack, u32(twin.ack - delta), "ack shifted back");
      assert.equal(s.sack.length, twin.sack.length);
      s.sack.forEach(([a, b], i) => {
        assert.equal(a, u32(twin.sack[i][0] - delta), "SACK left edge shifted back");
        assert.equal(b, u32(twin.sack[i][1] - delta), "SACK right edge shifted back");
        sackBlocks++;
      });
      downMatched++;
    }
    console.log(
      `wire: ${upMatched} client->server and ${downMatched} server->client packets matched, ` +
        `${sackBlocks} SACK blocks shifted; entry ${JSON.stringify(e)}`,
    );
    assert.ok(upMatched > 20 && downMatched > 20);
    assert.ok(sackBlocks > 0, "the losses made the server send SACK blocks");

    // Packets without an entry: with nf_conntrack_tcp_loose=0 a mid-stream ACK is INVALID
    // (the queue's diversion would catch it) and leaves no entry; with tcp_loose=1 the same
    // ACK is picked up as a new entry, which is what the fast path must not allow.
    const invalid = async () => {
      const t = await topo.exec("lb", ["iptables", "-t", "mangle", "-nvxL", "PREROUTING"], {
        check: true,
      });
      const line = t.stdout.split("\n").find((l) => l.includes("ctstate INVALID"))!;
      return Number(line.trim().split(/\s+/)[0]);
    };
    const strayAcks = async (sport: number, count: number, dst = vip, dport = 80) =>
      await topo.exec("client", [
        "/usr/bin/python3",
        "-c",
        `from scapy.all import IP, TCP, send, conf; conf.verb = 0; ` +
        `send(IP(dst="${dst}")/TCP(sport=${sport}, dport=${dport}, flags="A", seq=1, ack=1), count=${count})`,
      ], { check: true });
    const listed = async () =>
      (await topo.exec("lb", ["conntrack", "-L", "-p", "tcp"], { check: true })).stdout;
    const before = await invalid();
    assert.ok(before >= 1, "the server's SYN-ACK, with no entry yet, was INVALID");
    // Nothing of the transfer itself was INVALID (BE_LIBERAL, windows initialised mid-stream):
    // only the server's SYN-ACK and its retransmissions while the relay held it.
    assert.ok(before <= 3, `INVALID during the transfer: ${before}`);
    console.log(`INVALID before the stray ACKs: ${before}`);
    await strayAcks(33333, 3);
    assert.equal(await invalid(), before + 3, "three stray ACKs counted INVALID");
    assert.doesNotMatch(await listed(), /sport=33333/, "and no entry made of them");
    await topo.exec("lb", ["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=1"], {
      check: true,
    });
    // Sent to the server's address, forwarded: an ACK to the VIP would be answered by the
    // balancer's own RST, and conntrack kills an entry whose only reply is a RST at once.
    await strayAcks(33334, 1, rs, 8080);
    assert.equal(await invalid(), before + 3, "with tcp_loose=1 the ACK is not INVALID");
    assert.match(await listed(), /sport=33334/, "it is picked up as an entry instead");
  } finally {
    for (const p of peers) await p.close();
    await topo.destroy();
  }
});

Deno.test("conntrack wire: an injected entry is used only with both a rule using conntrack state and a nat-table chain (UDP, NAT both ways)", async () => {
  const topo = await createTopology({ prefix: "fnctu", lbForwarding: true });
  let server: UdpServer | undefined;
  const probe = new LinePeer(
    topo.spawn("lb", [Deno.execPath(), "run", "-A", PROBE], { stdin: "piped", stdout: "piped" }),
  );
  try {
    const { vips, localAddrs, realServers, client } = topo.addrs;
    const vip = vips[0];
    const lb = async (...cmd: string[]) => await topo.exec("lb", cmd, { check: true });
    for (const s of ["all", "eth0", "eth1"]) {
      await lb("sysctl", "-qw", `net.ipv4.conf.${s}.rp_filter=0`);
    }
    await probe.expect(/\{"ready":true\}/, 20_000);
    server = await startUdpServer(topo.rs, [realServers[0]], 5353);
    // One entry per attempt (a fresh client port each), then one request from that port.
    const attempt = async (sport: number): Promise<string> => {
      const lport = 7000 + sport % 1000;
      await probe.say(JSON.stringify({
        op: "create",
        entries: [{
          orig: { protocol: "udp", src: client, dst: vip, srcPort: sport, dstPort: 53 },
          dnat: { address: realServers[0], port: 5353 },
          snat: { address: localAddrs[0], port: lport },
          timeout: 60,
          mark: 1,
        }],
      }));
      const r = await json(probe);
      assert.equal(r.results[0].ok, true, JSON.stringify(r));
      const out = await topo.exec("client", [
        "/usr/bin/python3",
        "-c",
        "import socket\n" +
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n" +
        `s.bind(("0.0.0.0", ${sport})); s.settimeout(1.0)\n` +
        `s.sendto(b"REQ 1", ("${vip}", 53))\n` +
        "try:\n  d, a = s.recvfrom(2000); print(d.decode(), a[0], a[1])\n" +
        "except OSError as e:\n  print('no answer', e)\n",
      ], { check: true });
      return out.stdout.trim();
    };
    const state = ["PREROUTING", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"];
    // A rule that uses conntrack state, no nat table: conntrack finds the entry, but no NAT
    // hook applies its translation.
    await lb("iptables", "-t", "mangle", "-A", ...state);
    assert.match(await attempt(40100), /^no answer/, "the NAT hooks need a nat-table chain");
    // Both: the entry carries the request and the answer, translated both ways.
    await lb("iptables", "-t", "nat", "-A", "PREROUTING", "-j", "RETURN");
    await lb("iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "RETURN");
    assert.match(
      await attempt(40101),
      new RegExp(`^REP 1 server ${realServers[0]}:5353 peer ${localAddrs[0]}:7101 ${vip} 53$`),
    );
    // nat chains only (iptables-nft), the state rule removed: conntrack's hooks are gone.
    await lb("iptables", "-t", "mangle", "-D", ...state);
    assert.match(await attempt(40102), /^no answer/, "nat chains alone do not make packets use it");
  } finally {
    await probe.close();
    await server?.stop();
    await topo.destroy();
  }
});
