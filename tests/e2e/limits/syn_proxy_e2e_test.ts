/**
 * End to end, issue 16 point 1, with real traffic through the namespaces, nginx real servers
 * and the real daemon configured by `fullnat ipvsadm`: a FULLNAT service with the SYN proxy
 * (`-j enable`, shown as ` synproxy` by `-L -n`).
 *
 * - real curl gets its pages through the proxy, each connection one SYN at the real server;
 * - a spoofed SYN flood (scapy, random sources, nobody answering the cookie SYN-ACKs) while a
 *   client makes new connections back to back: the real servers receive no SYN but those of
 *   the client's connections, no session is made for a flood SYN, the client is served;
 * - the same flood with the proxy off (`-j disable`) on a small local port range, as the issue
 *   measured it: the flood's sessions take the ports and the client's connections fail.
 *
 * Prints the figures measured: SYNs/s answered by the proxy, the client's connections/s and
 * success rate during the flood with the proxy and without, and without a flood.
 *
 * Then the proxy with two packet workers (`--workers 2`, clients of both workers' buckets) and
 * over IPv6: real downloads (curl, nginx's bulk file) and uploads (the hash stream, whose
 * first bytes ride the held packets) byte-identical, every segment at the real server one hop
 * from the client, held ones included (they leave by the raw socket, which takes none), and a
 * lost session's segment reset from the VIP.
 */
import assert from "node:assert/strict";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { addInputCounter } from "../../../testkit/iptables_counter.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";
import { curl, sha256Hex } from "../../../testkit/servers.ts";
import { startCapture } from "../../../testkit/capture.ts";
import { sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";
import { workerOfAddress } from "../../../src/kernel/diversion_rules.ts";
import { formatEndpoint } from "../../../src/vocab/mod.ts";
import { ControlClient } from "../../../src/ctl/client.ts";

const FLOOD = new URL("../../../testkit/syn_flood.py", import.meta.url).pathname;

/** SYNs a second asked of scapy (about what one scapy process sends here) and for how long. */
const FLOOD_RATE = 2000;
const FLOOD_SECONDS = 10;

type Bed = Parameters<Parameters<typeof withFamilyBed>[1]>[0];

/** `count` new connections back to back from the client: how many got a 200, in how long. */
async function connections(bed: Bed, url: string, count: number, args: string[] = []) {
  const cmd = newConnectionsCommand(url, count);
  // Each connection gives up after 2 s, so a refused one costs the run little.
  cmd.splice(1, 0, "--connect-timeout", "2", "--max-time", "3", ...args);
  const t0 = performance.now();
  const r = await bed.topo.exec("client", cmd);
  const seconds = (performance.now() - t0) / 1000;
  const ok = r.stdout.split("\n").filter((l) => l.trim() === "200").length;
  return { ok, count, seconds };
}

/**
 * Floods `vip`:80 with spoofed SYNs (`rate` a second asked for, as fast as scapy goes) for
 * `seconds` while the client makes connections in batches of 20, a quarter second apart,
 * until the flood ends; `seconds` of the result is the time spent in the batches.
 */
async function floodWithClient(bed: Bed, vip: string, rate: number, seconds: number) {
  const flood = bed.topo.exec("client", [
    "/usr/bin/python3",
    FLOOD,
    vip,
    "80",
    `${rate}`,
    `${seconds}`,
    "198.51.100.",
    "20",
    "250",
  ], { check: true });
  let done = false;
  const legit = { ok: 0, count: 0, seconds: 0 };
  const client = (async () => {
    // Let the flood start first.
    await new Promise((r) => setTimeout(r, 300));
    while (!done) {
      const r = await connections(bed, `http://${vip}/`, 20);
      legit.ok += r.ok;
      legit.count += r.count;
      legit.seconds += r.seconds;
      // Paced, so the client's own closed sessions (held 2 minutes in TIME_WAIT) leave the
      // small port range to the flood.
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const out = await flood;
  done = true;
  await client;
  const f = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as { sent: number; seconds: number };
  return { sent: f.sent, floodSeconds: f.seconds, ...legit };
}

Deno.test("e2e SYN proxy: curl through -j enable; a spoofed flood reaches no real server; with and without", async () => {
  // 500 local ports: with three real servers 1,500 (server, port) tuples, which a flood
  // without the proxy fills within a second of its 5 s SYN_RECV hold.
  await withFamilyBed({ nginx: {}, daemonArgs: ["--local-ports", "20000-20499"] }, async (bed) => {
    const { topo, lb } = bed;
    const vip = topo.addrs.vips[0];
    await addFullnatService(
      lb,
      "tcp",
      vip,
      80,
      topo.addrs.realServers,
      topo.addrs.localAddrs.slice(0, 1),
    );
    // Without the proxy and without a flood: the client's rate, the baseline.
    const plain = await connections(bed, `http://${vip}/`, 200);
    assert.equal(plain.ok, 200);
    await lb.ipvsadmOk("-E", "-t", `${vip}:80`, "-j", "enable");
    assert.match(await lb.ipvsadmOk("-L", "-n", "-t", `${vip}:80`), /^TCP {2}\S+:80 rr synproxy$/m);
    assert.match(await lb.ipvsadmOk("-S", "-n"), /-A -t \S+:80 -s rr -j enable\n/);
    const rsSyns = await addInputCounter(
      topo,
      "rs",
      ["-p", "tcp", "--dport", "80", "--syn"],
      "rs-syns",
    );

    // Real curl, one page after another, each through a cookie handshake.
    for (let i = 0; i < 10; i++) {
      const r = await curl(topo.client, `http://${vip}/`);
      assert.equal(r.status, 200, r.stderr);
      assert.ok(r.body.length > 0);
    }
    const s0 = await lb.status();
    assert.equal(s0.engine.synProxyCookieValid, 10, JSON.stringify(s0.engine));
    assert.equal(s0.engine.synProxyServerAnswered, 10);
    assert.ok(s0.engine.synProxyCookiesSent >= 10);
    assert.equal(s0.engine.synProxyCookieInvalid, 0);
    assert.equal(await rsSyns.count(), 10, "one SYN at the real servers per connection");

    // Without a flood: the client's rate through the proxy.
    const quiet = await connections(bed, `http://${vip}/`, 200);
    assert.equal(quiet.ok, 200);

    // The flood with the proxy on.
    const before = await lb.status();
    const synsBefore = await rsSyns.count();
    const on = await floodWithClient(bed, vip, FLOOD_RATE, FLOOD_SECONDS);
    const after = await lb.status();
    const rsDuring = (await rsSyns.count()) - synsBefore;
    const opened = after.engine.sessionsCreated - before.engine.sessionsCreated;
    const counters = JSON.stringify(after.engine);
    const answered = after.engine.synProxyCookiesSent - before.engine.synProxyCookiesSent;
    assert.equal(rsDuring, opened, `a SYN at the real servers per session, none else: ${counters}`);
    assert.equal(
      opened,
      on.ok,
      `every session opened was the client's and was served: ${counters}`,
    );
    assert.equal(
      after.engine.synProxyCookieValid - before.engine.synProxyCookieValid,
      opened,
      counters,
    );
    assert.ok(answered >= on.sent * 0.95, `${answered} of ${on.sent} flood SYNs answered`);
    assert.ok(on.ok / on.count >= 0.99, `client served ${on.ok} of ${on.count} during the flood`);

    // The same flood with the proxy off.
    await lb.ipvsadmOk("-E", "-t", `${vip}:80`, "-j", "disable");
    assert.doesNotMatch(await lb.ipvsadmOk("-L", "-n"), /synproxy/);
    // The proxied connections' sessions are gone or going; let the table settle.
    await new Promise((r) => setTimeout(r, 6000));
    const synsOff = await rsSyns.count();
    const beforeOff = await lb.status();
    const off = await floodWithClient(bed, vip, FLOOD_RATE, FLOOD_SECONDS);
    const afterOff = await lb.status();
    const rsOff = (await rsSyns.count()) - synsOff;

    const rate = (n: number, s: number) => (n / s).toFixed(0);
    console.log(
      `SYN proxy: 10 curls served, each 1 SYN at the real servers. No flood, proxy off: ` +
        `${plain.ok}/${plain.count} new connections in ${plain.seconds.toFixed(2)} s ` +
        `(${rate(plain.ok, plain.seconds)}/s); proxy on: ${quiet.ok}/` +
        `${quiet.count} new connections in ${quiet.seconds.toFixed(2)} s ` +
        `(${rate(quiet.ok, quiet.seconds)}/s). Flood with the proxy: ${on.sent} spoofed SYNs in ` +
        `${on.floodSeconds} s (${rate(on.sent, on.floodSeconds)}/s sent), ${answered} answered ` +
        `with cookies (${rate(answered, on.floodSeconds)}/s), ${rsDuring} SYNs at the real ` +
        `servers = the client's ${opened} connections; client ${on.ok}/${on.count} served ` +
        `(${
          rate(on.ok, on.seconds)
        } connections/s within its batches). Flood without the proxy (500 local ports): ` +
        `${off.sent} SYNs (${rate(off.sent, off.floodSeconds)}/s), ${rsOff} SYNs at the real ` +
        `servers, sessions created ${
          afterOff.engine.sessionsCreated - beforeOff.engine.sessionsCreated
        }, ports exhausted ${afterOff.engine.portExhausted - beforeOff.engine.portExhausted}; ` +
        `client ${off.ok}/${off.count} served (${
          rate(off.ok, off.seconds)
        } connections/s within its batches)`,
    );
    // Without the proxy the flood's SYNs reach the servers until the local ports run out.
    assert.ok(rsOff > off.ok + 1000, `${rsOff} SYNs at the real servers without the proxy`);
    assert.ok(afterOff.engine.portExhausted > beforeOff.engine.portExhausted);
  });
});

/** The hash stream's sink port on the real servers. */
const SINK_PORT = 9000;
/** Bytes each upload sends. */
const UPLOAD_BYTES = 4 << 20;

/** URL host text of an address. */
const urlHost = (a: string) => a.includes(":") ? `[${a}]` : a;

/**
 * Every TCP segment the capture at the real servers saw from the balancer: its hop limit
 * (IPv4 TTL, IPv6 hop limit) must be one less than the client's 64, those the proxy held and
 * sent on by the raw socket included. Returns how many were looked at.
 */
function checkHops(packets: Uint8Array[]): number {
  const off: string[] = [];
  for (const p of packets) {
    const v6 = p[0] >>> 4 === 6;
    const hops = v6 ? p[7] : p[8];
    if (hops !== 63) off.push(`${v6 ? "hop limit" : "TTL"} ${hops}`);
  }
  assert.deepEqual(off, [], `${off.length} of ${packets.length} segments not one hop on`);
  return packets.length;
}

/**
 * Proxied downloads from each client address (bound with curl's `--interface`) and an upload
 * from each (the client's route to the VIP given that source), all byte-identical; the
 * segments at the real servers one hop on. `ns` is the capture's view of the real servers.
 */
async function proxiedTransfers(
  bed: Bed,
  vip: string,
  clients: readonly string[],
  rsAddr: string,
  v6: boolean,
): Promise<{ segments: number; downloads: number; uploads: number }> {
  const { topo, lb, nginx } = bed;
  await lb.ipvsadmOk("-E", "-t", formatEndpoint(vip, 80), "-j", "enable");
  await addFullnatService(
    lb,
    "tcp",
    vip,
    SINK_PORT,
    [rsAddr],
    v6 ? topo.addrs.v6!.localAddrs.slice(0, 2) : topo.addrs.localAddrs.slice(0, 2),
  );
  await lb.ipvsadmOk("-E", "-t", formatEndpoint(vip, SINK_PORT), "-j", "enable");
  await startHashServer(topo, "sink", rsAddr, SINK_PORT);
  const cap = await startCapture(topo.rs, "eth0", [
    v6 ? "ip6" : "ip",
    "and",
    "tcp",
    "and",
    "(dst port 80 or dst port 9000)",
  ]);
  let downloads = 0, uploads = 0;
  for (const [i, from] of clients.entries()) {
    for (let n = 0; n < 3; n++) {
      const r = await curl(topo.client, `http://${urlHost(vip)}${nginx!.bulkPath}`, {
        maxTimeSec: 60,
        args: ["--interface", from],
      });
      assert.equal(r.status, 200, `${from}: ${r.code} ${r.stderr}`);
      assert.equal(sha256Hex(r.bytes), nginx!.bulkSha256, `${from}: download ${n}`);
      downloads++;
    }
    // The upload's source: a host route to the VIP that prefers this client's address.
    const ip = v6 ? ["ip", "-6"] : ["ip"];
    const route = [`${vip}/${v6 ? 128 : 32}`, "dev", "eth0", "src", from];
    await topo.exec("client", [...ip, "route", "replace", ...route], { check: true });
    const up = await sendHashStream(topo, vip, SINK_PORT, UPLOAD_BYTES, 21 + i);
    await topo.exec("client", [...ip, "route", "del", ...route], { check: true });
    assert.ok(up.sent, `upload from ${from} did not complete ${up.output}`);
    assert.equal(up.got, up.sent, `the RS received exactly what ${from} sent`);
    uploads++;
  }
  const segments = checkHops(await cap.stop());
  return { segments, downloads, uploads };
}

type Worker = { index: number; engine: Record<string, number> };

Deno.test("e2e SYN proxy with --workers 2: downloads and uploads byte-identical from both workers' clients, held segments one hop on", async () => {
  await withFamilyBed(
    { nginx: { bulkBytes: 2 << 20 }, daemonArgs: ["--workers", "2"] },
    async (bed) => {
      const { topo, lb } = bed;
      const vip = topo.addrs.vips[0];
      const clients = [topo.addrs.client, "198.51.100.3"];
      assert.deepEqual(clients.map((c) => workerOfAddress(c, 2)), [0, 1], "one per worker");
      await topo.exec("client", ["ip", "addr", "add", `${clients[1]}/24`, "dev", "eth0"], {
        check: true,
      });
      await addFullnatService(
        lb,
        "tcp",
        vip,
        80,
        topo.addrs.realServers,
        topo.addrs.localAddrs.slice(0, 2),
      );
      const t = await proxiedTransfers(bed, vip, clients, topo.addrs.realServers[0], false);
      const status = await lb.status() as unknown as { workers: Worker[] };
      const workers = status.workers;
      assert.equal(workers.length, 2);
      for (const w of workers) {
        const e = w.engine;
        const what = `worker ${w.index}: ${JSON.stringify(e)}`;
        // Per worker: its client's 3 downloads and 1 upload, each through a cookie.
        assert.equal(e.synProxyCookieValid, 4, what);
        assert.equal(e.synProxyServerAnswered, 4, what);
        assert.equal(e.sessionsCreated, 4, what);
        assert.ok(e.synProxyReplayed >= 4, what);
        assert.equal(e.synProxyCookieInvalid, 0, what);
        assert.equal(e.synProxyHopLimitExceeded, 0, what);
        assert.equal(e.tcpNoSession, 0, `${what}: packets of the other worker`);
        assert.equal(e.passedThrough, 0, what);
      }
      console.log(
        `SYN proxy, 2 workers: ${t.downloads} downloads (2 MiB) and ${t.uploads} uploads ` +
          `(${UPLOAD_BYTES >> 20} MiB) byte-identical; ${t.segments} segments at the real ` +
          `servers, all TTL 63; per worker ` +
          workers.map((w) =>
            `${w.index}: cookies ${w.engine.synProxyCookiesSent}, valid ` +
            `${w.engine.synProxyCookieValid}, replayed ${w.engine.synProxyReplayed}`
          ).join("; "),
      );
    },
  );
});

Deno.test("e2e SYN proxy over IPv6 with --workers 2: downloads and an upload byte-identical, held segments one hop on, a lost session's segment reset", async () => {
  await withFamilyBed(
    { ipv6: true, nginx: { bulkBytes: 2 << 20 }, daemonArgs: ["--workers", "2"] },
    async (bed) => {
      const { topo, lb } = bed;
      const v6 = topo.addrs.v6!;
      const vip = v6.vips[0];
      await addFullnatService(lb, "tcp", vip, 80, v6.realServers, v6.localAddrs.slice(0, 2));
      const t = await proxiedTransfers(bed, vip, [v6.client], v6.realServers[0], true);
      const e = (await lb.status()).engine;
      const what = JSON.stringify(e);
      assert.equal(e.synProxyCookieValid, 4, what);
      assert.equal(e.synProxyServerAnswered, 4, what);
      assert.equal(e.sessionsCreated, 4, what);
      assert.ok(e.synProxyReplayed >= 4, what);
      assert.equal(e.synProxyCookieInvalid, 0, what);

      // A segment of a connection the balancer does not know (no session, no cookie): the VIP
      // answers with a RST, as on a service without the proxy, and the client gives up at once.
      const lost = await topo.exec("client", [
        "/usr/bin/python3",
        "-c",
        `
from scapy.all import IPv6, TCP, sr1, conf
conf.verb = 0
r = sr1(IPv6(src="${v6.client}", dst="${vip}")/TCP(sport=45678, dport=80, flags="PA", seq=1000, ack=123456789)/b"lost", timeout=3)
print("none" if r is None else f"{r[TCP].flags} {r[TCP].seq}")
`,
      ], { check: true });
      assert.equal(lost.stdout.trim(), "R 123456789", lost.stderr);
      const after = (await lb.status()).engine;
      assert.equal(after.synProxyCookieInvalid, 1);
      assert.equal(after.noSessionResets, 1);
      console.log(
        `SYN proxy over IPv6, 2 workers: ${t.downloads} downloads (2 MiB) and ${t.uploads} ` +
          `upload (${UPLOAD_BYTES >> 20} MiB) byte-identical; ${t.segments} segments at the ` +
          `real server, all hop limit 63; cookies ${e.synProxyCookiesSent}, replayed ` +
          `${e.synProxyReplayed}; a lost session's segment reset from the VIP`,
      );
    },
  );
});

/** New connections per round of the cost measurement, and rounds per mode. */
const COST_CONNECTIONS = 2000;
const COST_ROUNDS = 3;

/** CPU time (user + system, all threads) process `pid` has used, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name's closing parenthesis; utime and stime are the 14th and 15th.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]);
  // USER_HZ is 100 on Linux.
  return ticks / 100;
}

/** The median of `xs`. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

Deno.test("e2e SYN proxy cost on normal connections: new connections/s and daemon CPU per connection, off and on side by side", async () => {
  await withFamilyBed({ nginx: {} }, async (bed) => {
    const { topo, lb } = bed;
    const vip = topo.addrs.vips[0];
    await addFullnatService(lb, "tcp", vip, 80, topo.addrs.realServers, topo.addrs.localAddrs);
    const control = await ControlClient.connect(lb.socket);
    try {
      const { pid } = await control.call("daemonInfo") as { pid: number };
      const rounds: Record<"off" | "on", { perS: number; cpuUs: number }[]> = { off: [], on: [] };
      // Alternating, so the machine's other load falls on both alike; off first, then on first.
      const order: ("off" | "on")[] = [];
      for (let i = 0; i < COST_ROUNDS; i++) {
        order.push(...(i % 2 ? ["on", "off"] : ["off", "on"]) as ("off" | "on")[]);
      }
      for (const [i, mode] of order.entries()) {
        await lb.ipvsadmOk("-E", "-t", `${vip}:80`, "-j", mode === "on" ? "enable" : "disable");
        const before = await lb.status();
        const cpu0 = await cpuSeconds(pid);
        // Each round from ports of its own: a SYN on the tuple of a session still closing
        // from the round before would reopen that session instead of meeting the mode.
        const ports = `${10000 + i * 3000}-${10000 + i * 3000 + 2999}`;
        const r = await connections(bed, `http://${vip}/`, COST_CONNECTIONS, [
          "--local-port",
          ports,
        ]);
        const cpu = await cpuSeconds(pid) - cpu0;
        const after = await lb.status();
        assert.equal(r.ok, COST_CONNECTIONS, `proxy ${mode}: ${r.ok} of ${r.count} served`);
        const valid = after.engine.synProxyCookieValid - before.engine.synProxyCookieValid;
        assert.equal(valid, mode === "on" ? COST_CONNECTIONS : 0, `proxy ${mode}: cookies`);
        rounds[mode].push({ perS: r.ok / r.seconds, cpuUs: cpu * 1e6 / r.ok });
      }
      const fmt = (m: "off" | "on") =>
        `${median(rounds[m].map((x) => x.perS)).toFixed(0)} conn/s, daemon CPU ` +
        `${median(rounds[m].map((x) => x.cpuUs)).toFixed(0)} µs/connection (rounds: ` +
        rounds[m].map((x) => `${x.perS.toFixed(0)}/s ${x.cpuUs.toFixed(0)} µs`).join(", ") + ")";
      console.log(
        `SYN proxy cost, ${COST_ROUNDS} alternating rounds of ${COST_CONNECTIONS} new ` +
          `connections (curl, one at a time, Connection: close; medians): proxy off ` +
          `${fmt("off")}; proxy on ${fmt("on")}`,
      );
      for (const m of ["off", "on"] as const) {
        assert.ok(rounds[m].every((x) => x.cpuUs > 0), `the daemon's CPU was measured (${m})`);
      }
    } finally {
      control.close();
    }
  });
});
