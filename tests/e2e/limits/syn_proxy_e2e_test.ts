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
 */
import assert from "node:assert/strict";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { addInputCounter } from "../../../testkit/iptables_counter.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";
import { curl } from "../../../testkit/servers.ts";

const FLOOD = new URL("../../../testkit/syn_flood.py", import.meta.url).pathname;

/** SYNs a second asked of scapy (about what one scapy process sends here) and for how long. */
const FLOOD_RATE = 2000;
const FLOOD_SECONDS = 10;

type Bed = Parameters<Parameters<typeof withFamilyBed>[1]>[0];

/** `count` new connections back to back from the client: how many got a 200, in how long. */
async function connections(bed: Bed, url: string, count: number) {
  const cmd = newConnectionsCommand(url, count);
  // Each connection gives up after 2 s, so a refused one costs the run little.
  cmd.splice(1, 0, "--connect-timeout", "2", "--max-time", "3");
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
