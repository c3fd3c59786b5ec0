/**
 * End to end, issue 16 points 2 and 3, with real traffic through the namespaces, nginx real
 * servers and the real daemon configured by `fullnat ipvsadm` and the `fullnat` admin commands:
 *
 * - per-source limits: with `--source-sessions 2`, a client address holding two connections
 *   is refused a third while another address is served; with `--source-rate 1`, a client
 *   address opening connections back to back is refused while another is served;
 * - allow and deny lists: real curl from a denied address gets no connection, from an allowed
 *   one a page; `config export` lists them;
 * - a spoofed SYN flood (scapy, random sources, nobody answering the SYN-ACKs the Linux real
 *   server sends and retransmits): how long its sessions hold local ports with the default
 *   `tcpSynAck` (5 s) and with it at 30 s; SYNs with a bad checksum make no session at all.
 *
 * Prints the figures measured (hold times under the flood).
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import type { Balancer } from "../../../testkit/balancer.ts";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { LinePeer } from "../../../testkit/line_peer.ts";
import { curl } from "../../../testkit/servers.ts";

const SECOND_CLIENT = "198.51.100.3";
const FLOOD = new URL("../../../testkit/syn_flood.py", import.meta.url).pathname;

type Bed = Parameters<Parameters<typeof withFamilyBed>[1]>[0];

/** The bed's web service (nginx on every real server, one local address) and a second client address. */
async function webService(bed: Bed): Promise<string> {
  const { topo, lb } = bed;
  const vip = topo.addrs.vips[0];
  await topo.exec("client", ["ip", "addr", "add", `${SECOND_CLIENT}/24`, "dev", "eth0"], {
    check: true,
  });
  await addFullnatService(
    lb,
    "tcp",
    vip,
    80,
    topo.addrs.realServers,
    topo.addrs.localAddrs.slice(0, 1),
  );
  return vip;
}

/** `fullnat ARGS` against the daemon, which must succeed; its output. */
async function cliOk(lb: Balancer, ...args: string[]): Promise<string> {
  const r = await lb.cli(...args);
  assert.equal(r.code, 0, `fullnat ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A page from `vip` fetched from client address `from`: its HTTP status (0: no connection). */
async function fetchFrom(bed: Bed, vip: string, from: string, connectTimeoutSec = 3) {
  const r = await curl(bed.topo.client, `http://${vip}/`, {
    args: ["--interface", from],
    connectTimeoutSec,
    maxTimeSec: connectTimeoutSec + 2,
  });
  return r.status;
}

Deno.test("e2e per-source limits: a source over its limit is refused while another is served", async () => {
  await withFamilyBed({ nginx: {} }, async (bed) => {
    const { topo, lb } = bed;
    const vip = await webService(bed);
    const client = topo.addrs.client;
    await cliOk(lb, "service", "edit", "tcp", `${vip}:80`, "--source-sessions", "2");
    const peers = LinePeer.tcpPeers(topo, "client", ["client", vip, "80"]);
    try {
      // Two idle connections held open from the first address (nginx keeps them a minute).
      for (const n of ["a0", "a1"]) {
        await peers.say(`open ${n} ${client}`);
        await peers.expect(new RegExp(`opened ${n} \\d+`));
      }
      // A third from it gets no answer to its SYN nor to its retransmission a second later.
      await peers.say(`open a2 ${client} 2.5`);
      await peers.expect(/failed a2 (TimeoutError|timeout)/);
      // The other address is served meanwhile.
      assert.equal(await fetchFrom(bed, vip, SECOND_CLIENT), 200);
      const s = await lb.status();
      assert.ok(s.engine.sourceSessionsRefused >= 2, JSON.stringify(s.engine));
      assert.equal(s.engine.resetsSent, 0, "refused silently");
      const control = await ControlClient.connect(lb.socket);
      try {
        const svc = (await control.listServices())[0];
        assert.equal(svc.sourceSessions, 2);
        assert.equal(svc.refused?.sourceSessions, s.engine.sourceSessionsRefused);
      } finally {
        control.close();
      }
      assert.match(
        await cliOk(lb, "service", "show", "tcp", `${vip}:80`),
        /source sessions +2 per source/,
      );

      // The rate instead: back to back, the first address gets one connection a second.
      await lb.ipvsadmOk("-E", "-t", `${vip}:80`, "--source-sessions", "0", "--source-rate", "1");
      assert.match(
        await lb.ipvsadmOk("-S", "-n"),
        /-A -t 198\.51\.100\.10:80 -s rr --source-rate 1\n/,
      );
      // A pair proves the limit when the first is served and the second, right behind it, is
      // refused by the limit (its counter moves), not lost to a slow machine. A loaded machine
      // can stretch a pair past the second, so up to three pairs, each after the bucket refilled.
      const refused = async () => (await lb.status()).engine.sourceRateRefused;
      let [first, second] = [0, 0];
      for (let pair = 0; pair < 3; pair++) {
        await new Promise((r) => setTimeout(r, 1200));
        const before = await refused();
        first = await fetchFrom(bed, vip, client, 2);
        second = await fetchFrom(bed, vip, client, 0.5);
        if (first === 200 && second === 0 && await refused() > before) break;
      }
      const other = await fetchFrom(bed, vip, SECOND_CLIENT, 2);
      assert.deepEqual([first, second, other], [200, 0, 200]);
      assert.ok(await refused() >= 1);
      console.log(
        `per-source: sessions limit 2 refused the third (${s.engine.sourceSessionsRefused} SYNs ` +
          `dropped) while ${SECOND_CLIENT} was served; rate 1/s: ${first} then ${second}, ` +
          `the other address ${other}`,
      );
    } finally {
      await peers.close();
    }
  });
});

Deno.test("e2e allow and deny lists: real curl from a denied address gets nothing, an allowed one a page", async () => {
  await withFamilyBed({ nginx: {} }, async (bed) => {
    const { topo, lb } = bed;
    const vip = await webService(bed);
    const client = topo.addrs.client;
    const svc = `${vip}:80`;
    await cliOk(lb, "service", "edit", "tcp", svc, "--deny", SECOND_CLIENT);
    assert.equal(await fetchFrom(bed, vip, client), 200);
    assert.equal(await fetchFrom(bed, vip, SECOND_CLIENT, 1), 0, "denied");
    // An allow list lets only its prefixes in; deny wins over it.
    await cliOk(
      lb,
      "service",
      "edit",
      "tcp",
      svc,
      "--deny",
      "none",
      "--allow",
      `${SECOND_CLIENT}/32`,
    );
    assert.equal(await fetchFrom(bed, vip, SECOND_CLIENT), 200);
    assert.equal(await fetchFrom(bed, vip, client, 1), 0, "not in the allow list");
    await cliOk(
      lb,
      "service",
      "edit",
      "tcp",
      svc,
      "--allow",
      "198.51.100.0/24",
      "--deny",
      `${client}`,
    );
    assert.equal(await fetchFrom(bed, vip, SECOND_CLIENT), 200);
    assert.equal(await fetchFrom(bed, vip, client, 1), 0, "denied though allowed");
    const exported = await cliOk(lb, "config", "export");
    assert.match(
      exported,
      /"allow": \[\n\s+"198\.51\.100\.0\/24"\n\s+\],\n\s+"deny": \[\n\s+"198\.51\.100\.2\/32"\n/,
    );
    // A bad prefix changes nothing and says why.
    const bad = await lb.cli("service", "edit", "tcp", svc, "--deny", "198.51.100.1/24");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /bits set past its length: write the network, 198\.51\.100\.0\/24/);
    assert.equal(await fetchFrom(bed, vip, client, 1), 0, "the deny list is as it was");
    const s = await lb.status();
    // Each refused curl's SYN and its retransmission(s) within the connect timeout.
    assert.ok(s.engine.aclDenied >= 3, JSON.stringify(s.engine));
    assert.equal(s.engine.sessionsCreated, 3);
  });
});

/** Sessions of the service, summed over its real servers. */
async function sessions(c: ControlClient): Promise<number> {
  const svc = (await c.listServices())[0];
  return svc.realServers.reduce((n, r) => n + r.activeConns + r.inactiveConns, 0);
}

/**
 * Floods `vip`:80 with `rate` spoofed SYNs a second for `seconds` from 198.51.100.20-250, then
 * waits for their sessions to go: the peak count, and how long after the last SYN the last
 * session went (s).
 */
async function floodHold(
  bed: Bed,
  c: ControlClient,
  vip: string,
  rate: number,
  seconds: number,
  bad = false,
) {
  const args = [
    vip,
    "80",
    `${rate}`,
    `${seconds}`,
    "198.51.100.",
    "20",
    "250",
    ...(bad ? ["--bad-checksum"] : []),
  ];
  const flood = bed.topo.exec("client", ["/usr/bin/python3", FLOOD, ...args], { check: true });
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, await sessions(c));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const out = await flood;
  done = true;
  await sampler;
  const sent = JSON.parse(out.stdout.trim().split("\n").at(-1)!).sent as number;
  const end = performance.now();
  let left = await sessions(c);
  while (left > 0 && performance.now() - end < 90_000) {
    await new Promise((r) => setTimeout(r, 250));
    left = await sessions(c);
  }
  return { sent, peak, held: (performance.now() - end) / 1000, left };
}

Deno.test("e2e spoofed SYN flood: ports held tcpSynAck after the last SYN; bad checksums make no session", async () => {
  await withFamilyBed({ nginx: {} }, async (bed) => {
    const { lb } = bed;
    const vip = await webService(bed);
    const c = await ControlClient.connect(lb.socket);
    try {
      // 50 SYN/s for 4 s: well inside the real server's SYN backlog, so it keeps no cookies
      // and retransmits its SYN-ACKs (1, 3, 7, 15, 31 s) as to a real client.
      const short = await floodHold(bed, c, vip, 50, 4);
      assert.equal(short.left, 0);
      assert.ok(short.held < 8, `held ${short.held} s after the last SYN`);
      const s1 = await lb.status();
      assert.equal(s1.engine.sessionsCreated, short.sent);
      await cliOk(lb, "timeout", "set", "--tcp-syn-ack", "30");
      const long = await floodHold(bed, c, vip, 50, 4);
      assert.equal(long.left, 0);
      assert.ok(long.held > 27 && long.held < 35, `held ${long.held} s after the last SYN`);
      await cliOk(lb, "timeout", "set", "--tcp-syn-ack", "5");
      const bad = await floodHold(bed, c, vip, 200, 1, true);
      const s2 = await lb.status();
      assert.equal(bad.peak, 0, "no session for a SYN with a bad checksum");
      assert.equal(s2.engine.badChecksum, bad.sent);
      assert.equal(s2.engine.sessionsCreated, short.sent + long.sent);
      console.log(
        `spoofed flood of ${short.sent} SYNs (50/s): peak ${short.peak} sessions, the last gone ` +
          `${short.held.toFixed(1)} s after the last SYN with tcpSynAck 5; ` +
          `${long.held.toFixed(1)} s with tcpSynAck 30 (peak ${long.peak}); ` +
          `${bad.sent} SYNs with a bad checksum: ${s2.engine.badChecksum} counted, no session`,
      );
    } finally {
      c.close();
    }
  });
});
