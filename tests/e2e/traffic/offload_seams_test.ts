/**
 * End to end, what the kernel fast path (`--offload established`) must not lose (issue 15
 * point 3 and 5), on real traffic with GSO on: an offloaded idle session that the kernel
 * expires is still reset at both ends with sequence numbers both kernels accept (found by the
 * engine's probe, `offload_expiry.ts`); an offloaded transfer whose kernel entry is
 * deleted by hand carries on through the queue byte-identical; 200 MB each way, offloaded,
 * across 1% loss on the real-server link (retransmissions and SACK through the kernel's
 * seqadj) arrive byte-identical; an offloaded upload through a 1280-byte router completes
 * (the router's "fragmentation needed" reaches the engine, which translates it for the
 * client); listings and counters include what the kernel carried, and the stop leaves every
 * rule, chain and conntrack setting as it found them. (Not compared: iptables-nft keeps a
 * table the daemon created, `raw`, `mangle`, `nat`, with its built-in chains, empty and
 * ACCEPT, after the stop; a fresh namespace had none. An empty `nat` table still registers the
 * NAT hooks, so conntrack keeps tracking the namespace's traffic after the stop.)
 */
import assert from "node:assert/strict";
import { waitFor } from "../../../testkit/servers.ts";
import { withBed } from "../../../testkit/bed.ts";
import { loseAtRandom } from "../../../testkit/lossy_link.ts";
import { idleExpiry, rstFilter } from "../../../testkit/idle_expiry_run.ts";
import { startBalancer } from "../../../testkit/balancer.ts";
import { createTopology } from "../../../testkit/netns.ts";
import { startNginx } from "../../../testkit/servers.ts";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { fetchHashStream, sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";

const OFFLOAD = ["--offload", "established"];

interface OffloadStatus {
  sessions: number;
  engine: Record<string, number>;
  offload?: { step: Record<string, number>; problem: string | null };
}

const offloadCounters = (c: Record<string, number>) =>
  JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith("offload"))));

Deno.test("e2e offload: an offloaded idle session the kernel expires is reset at both ends", async () => {
  await withBed({ daemonArgs: OFFLOAD }, async (bed) => {
    const rs = bed.topo.addrs.realServers[0];
    const lip = bed.topo.addrs.localAddrs[0];
    const svc = `${bed.vip}:9002`;
    await bed.lb.ipvsadmOk("-A", "-t", svc, "-s", "rr");
    await bed.lb.ipvsadmOk("-a", "-t", svc, "-r", `${rs}:9002`, "-b");
    await bed.lb.ipvsadmOk("-P", "-t", svc, "-z", lip);
    // ESTABLISHED 2 s: the engine hands the same timeout to the kernel's entry.
    await bed.lb.ipvsadmOk("--set", "2", "7", "300");
    // The server greets (its data makes the session offloadable), then both sides wait.
    const run = await idleExpiry(bed, {
      port: 9002,
      holdMs: 20_000,
      clientFilter: rstFilter(9002),
      rsFilter: ["tcp", "port", "9002"],
    });
    const [client, serverOut, waited, atClient, rsSide] = [
      run.client,
      run.server,
      run.waitedMs,
      run.atClient,
      run.atRs,
    ];
    const st = (await bed.lb.status()) as unknown as OffloadStatus;
    const c = st.engine;
    // Each kernel took the RST: Linux accepts one only at exactly RCV.NXT (RFC 5961), any
    // other in the window draws a challenge ACK and the socket lives on.
    assert.match(client, /client reset/, client);
    assert.match(serverOut, /server reset/, offloadCounters(c));
    assert.equal(c.offloaded, 1, offloadCounters(c));
    assert.deepEqual(
      [c.offloadExpiryProbes, c.offloadExpiryResets, c.offloadExpiryNoAnswer, c.expiryResets],
      [1, 1, 0, 0],
      offloadCounters(c),
    );
    assert.equal(st.sessions, 0);
    // The wire at the RS: the probe (an ACK from the local address), the server's answer,
    // then the RST at the ack that answer carried.
    const fromLip = rsSide.filter((d) => d.ip?.src === lip);
    const rst = fromLip.find((d) => d.tcp?.flags === "R");
    assert.ok(rst, JSON.stringify(rsSide.map((d) => d.summary)));
    const rstAt = rsSide.indexOf(rst);
    const answer = rsSide.slice(0, rstAt).findLast((d) => d.ip?.src === rs);
    assert.ok(answer, "the server answered the probe before the RST");
    assert.equal(rst.tcp?.seq, answer.tcp?.ack, "RST to the RS at its RCV.NXT");
    assert.equal(rst.l4ChecksumOk, true);
    // At the client: one RST from the VIP at the server's SND.NXT.
    assert.equal(atClient.length, 1, JSON.stringify(atClient));
    assert.deepEqual(
      [atClient[0].ip?.src, atClient[0].tcp?.sport, atClient[0].tcp?.flags, atClient[0].tcp?.seq],
      [bed.vip, 9002, "R", answer.tcp?.seq],
    );
    assert.equal(atClient[0].l4ChecksumOk, true);
    // 2 s of idleness, then the kernel's entry is reaped (at the latest by the 5 s dump).
    assert.ok(waited < 12_000, `reset after ${waited} ms`);
    console.log(
      `offloaded idle connection reset at both ends ${(waited / 1000).toFixed(1)} s after ` +
        `connecting; RS answer seq ${answer.tcp?.seq} ack ${answer.tcp?.ack}; ` +
        `${offloadCounters(c)}`,
    );
  });
});

Deno.test("e2e offload: a transfer whose kernel entry is deleted by hand carries on through the queue", async () => {
  const bytes = 40 << 20;
  await withBed({ daemonArgs: OFFLOAD, bulkBytes: bytes }, async (bed) => {
    const svc = `${bed.vip}:80`;
    const rs = bed.topo.addrs.realServers[0];
    await bed.lb.ipvsadmOk("-A", "-t", svc, "-s", "rr");
    await bed.lb.ipvsadmOk("-a", "-t", svc, "-r", `${rs}:80`, "-b");
    await bed.lb.ipvsadmOk("-P", "-t", svc, "-z", bed.topo.addrs.localAddrs[0]);
    const status = async () => (await bed.lb.status()) as unknown as OffloadStatus;
    // 40 MB at 10 MB/s: about 4 s, offloaded within the first 100 ms step.
    const download = bed.topo.exec("client", [
      "sh",
      "-c",
      `curl -sS --max-time 60 --limit-rate 10M http://${bed.vip}${bed.nginx.bulkPath} | sha256sum`,
    ]);
    await waitFor(async () => (await status()).engine.offloaded >= 1, {
      timeoutMs: 3000,
      intervalMs: 50,
      what: "the download's offload",
    });
    const del = await bed.topo.exec("lb", [
      "conntrack",
      "-D",
      "-p",
      "tcp",
      "-s",
      bed.topo.addrs.client,
      "-d",
      bed.vip,
      "--dport",
      "80",
    ]);
    assert.match(del.stderr, /1 flow entries have been deleted/, del.stderr);
    const got = await download;
    assert.equal(got.stdout.split(" ")[0], bed.nginx.bulkSha256, got.stderr);
    const c = (await status()).engine;
    // Its packets came to the queue while the session still read as offloaded (counted as
    // fallbacks) or after the destroy event was read (the session was back in the engine by
    // then): either way the session carried on, and the event was read once.
    assert.equal(c.offloadGone, 1, offloadCounters(c));
    // Deleted, not expired: no probe, no reset.
    assert.deepEqual([c.offloadExpiryProbes, c.offloadExpiryResets], [0, 0]);
    // Not offered again: the rest went through the queue.
    assert.equal(c.offloaded, 1, offloadCounters(c));
    console.log(`entry deleted mid-transfer: 40 MB byte-identical; ${offloadCounters(c)}`);
  });
});

Deno.test("e2e offload: 200 MB each way, offloaded, across 1% loss on the RS link arrive byte-identical", async () => {
  await withBed({ daemonArgs: OFFLOAD }, async (bed) => {
    const rs = bed.topo.addrs.realServers[0];
    const lip = bed.topo.addrs.localAddrs[0];
    for (const port of [9000, 9001]) {
      await bed.lb.ipvsadmOk("-A", "-t", `${bed.vip}:${port}`, "-s", "rr");
      await bed.lb.ipvsadmOk("-a", "-t", `${bed.vip}:${port}`, "-r", `${rs}:${port}`, "-b");
      await bed.lb.ipvsadmOk("-P", "-t", `${bed.vip}:${port}`, "-z", lip);
    }
    await startHashServer(bed.topo, "greet-sink", "0.0.0.0", 9000);
    await startHashServer(bed.topo, "source", "0.0.0.0", 9001);
    await loseAtRandom(bed.topo, "rs", "eth0", 0.01);
    const bytes = 200 * 1024 * 1024;
    const t0 = performance.now();
    // The sink greets, so the upload's session is offloadable before its first byte.
    const up = await sendHashStream(bed.topo, bed.vip, 9000, bytes, 21, 120, 300);
    const t1 = performance.now();
    const down = await fetchHashStream(bed.topo, bed.vip, 9001, bytes, 22, 120);
    const t2 = performance.now();
    const drops = await bed.topo.exec("rs", ["iptables", "-L", "-v", "-n", "-x"]);
    assert.ok(up.sent, `upload: ${up.output}`);
    assert.equal(up.got, up.sent, "the RS hashed exactly what the client sent");
    assert.equal(down.bytes, bytes, down.output);
    assert.equal(down.got, down.expected, "the client hashed exactly what the RS sent");
    const dropped = [...drops.stdout.matchAll(/^\s*(\d+)\s+\d+\s+DROP/gm)].map((m) => Number(m[1]));
    assert.ok(dropped.length === 2 && dropped.every((n) => n >= 10), `losses: ${dropped}`);
    const st = (await bed.lb.status()) as unknown as OffloadStatus;
    const c = st.engine;
    // Both connections went to the kernel, and nearly all their packets with them: what the
    // queue saw of them after the handover is at most a few stragglers.
    assert.equal(c.offloaded, 2, offloadCounters(c));
    assert.ok(c.offloadFallback < 50, offloadCounters(c));
    // The kernel's counts reached the services' stats once the entries went (FIN, TIME_WAIT).
    await waitFor(async () => (await bed.lb.status()).engine.offloadGone === 2, {
      timeoutMs: 20_000,
      intervalMs: 500,
      what: "both entries' end",
    });
    const shown = await bed.lb.cli("stats", "show", "--json");
    const stats = JSON.parse(shown.stdout) as {
      port: number;
      stats: { inBytes: number; outBytes: number };
    }[];
    const byPort = (p: number) => stats.find((s) => s.port === p)!.stats;
    assert.ok(byPort(9000).inBytes > bytes, JSON.stringify(stats));
    assert.ok(byPort(9001).outBytes > bytes, JSON.stringify(stats));
    console.log(
      `offloaded 200 MiB up in ${((t1 - t0) / 1000).toFixed(1)} s, down in ${
        ((t2 - t1) / 1000).toFixed(1)
      } s; packets dropped at the RS in/out ${dropped.join("/")}; ${offloadCounters(c)}`,
    );
  });
});

Deno.test("e2e offload: an offloaded upload through a 1280-byte router completes (PMTU through the engine)", async () => {
  const bytes = 8 << 20;
  await withFamilyBed({ router: { mtu: 1280 }, daemonArgs: OFFLOAD }, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    await addFullnatService(lb, "tcp", vip, 9000, [rs], [topo.addrs.localAddrs[0]]);
    await startHashServer(topo, "greet-sink", rs, 9000);
    const up = await sendHashStream(topo, vip, 9000, bytes, 31, 60, 300);
    assert.ok(up.sent, `upload did not complete ${up.output}`);
    assert.equal(up.got, up.sent, "the RS received exactly what the client sent");
    const route = await topo.exec("client", ["ip", "route", "get", vip]);
    const pmtu = Number(/ mtu (\d+)/.exec(route.stdout)?.[1]);
    const c = (await lb.status()).engine;
    // Offloaded after the greeting, before the first full-size segment met the router.
    assert.equal(c.offloaded, 1, offloadCounters(c));
    assert.ok(c.icmpErrorsTranslated >= 1, JSON.stringify(c));
    assert.ok(pmtu >= 1272 && pmtu <= 1280, route.stdout);
    console.log(
      `offloaded upload through a 1280 path: client PMTU ${pmtu}; ICMP errors translated ` +
        `${c.icmpErrorsTranslated}; ${offloadCounters(c)}`,
    );
  });
});

Deno.test("e2e offload: listings and counters include offloaded traffic; the stop leaves the box as it was", async () => {
  const bytes = 20 << 20;
  const topo = await createTopology({ prefix: "h15r" });
  const nginx = await startNginx({
    netns: topo.rs,
    addrs: topo.addrs.realServers,
    bulkBytes: bytes,
  });
  // Every conntrack setting but the live count, and every table's rules and own chains
  // (iptables-nft leaves a table the daemon made behind with its built-in chains, empty and
  // ACCEPT: not compared, see the module doc).
  const settings = async () =>
    (await topo.exec("lb", ["sh", "-c", "grep -H . /proc/sys/net/netfilter/nf_conntrack_*"]))
      .stdout.split("\n").filter((l) => !l.includes("nf_conntrack_count")).join("\n");
  const rules = async () =>
    (await topo.exec("lb", ["iptables-save"])).stdout.split("\n")
      .filter((l) => l.startsWith("-A") || l.startsWith(":"))
      .map((l) => l.replace(/\[\d+:\d+\]/, "").trim())
      .filter((l) => !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT$/.test(l))
      .join("\n");
  const ours = async () =>
    (await topo.exec("lb", ["conntrack", "-L", "-m", "0x80000000/0xc0000000"])).stdout.trim();
  try {
    const before = { settings: await settings(), rules: await rules() };
    const lb = await startBalancer(topo, OFFLOAD);
    let code: number | undefined;
    try {
      const vip = topo.addrs.vips[0];
      const rs = topo.addrs.realServers[0];
      await addFullnatService(lb, "tcp", vip, 80, [rs], [topo.addrs.localAddrs[0]]);
      const status = async () => (await lb.status()) as unknown as OffloadStatus;
      const download = topo.exec("client", [
        "sh",
        "-c",
        `curl -sS --max-time 60 --limit-rate 10M http://${vip}${nginx.bulkPath} | sha256sum`,
      ]);
      await waitFor(async () => (await status()).engine.offloaded >= 1, {
        timeoutMs: 3000,
        intervalMs: 50,
        what: "the download's offload",
      });
      // While the kernel carries it, the session is listed as ever.
      const conns = await lb.ipvsadmOk("-L", "-n", "-c");
      assert.match(
        conns,
        new RegExp(
          `TCP .*ESTABLISHED\\s+${topo.addrs.client}:\\d+\\s+${vip}:80\\s+\\S+\\s+${rs}:80`,
        ),
        conns,
      );
      const listed = await lb.cli("conn", "list", "--json");
      assert.match(listed.stdout, /"offloaded": ?true/, listed.stdout);
      const got = await download;
      assert.equal(got.stdout.split(" ")[0], nginx.bulkSha256, got.stderr);
      // The entry ends (FIN, TIME_WAIT) and its counts join the service's and server's.
      await waitFor(async () => (await status()).engine.offloadGone >= 1, {
        timeoutMs: 20_000,
        intervalMs: 500,
        what: "the entry's end",
      });
      const shown = await lb.cli("stats", "show", "--json");
      const [svc] = JSON.parse(shown.stdout) as {
        stats: { conns: number; inBytes: number; outBytes: number; outPackets: number };
        realServers: { stats: { inBytes: number; outBytes: number; outPackets: number } }[];
      }[];
      assert.equal(svc.stats.conns, 1);
      assert.ok(
        svc.stats.outBytes > bytes && svc.stats.outBytes < bytes * 1.1,
        JSON.stringify(svc),
      );
      // The engine alone saw a few packets: the rest of the 20 MB is the kernel's count.
      assert.ok(svc.stats.outPackets > 300, JSON.stringify(svc));
      assert.deepEqual(
        [svc.realServers[0].stats.outBytes, svc.realServers[0].stats.inBytes],
        [svc.stats.outBytes, svc.stats.inBytes],
      );
      const rate = await lb.ipvsadmOk("-L", "-n", "--stats", "--exact");
      assert.match(rate, new RegExp(`\\b${svc.stats.outBytes}\\b`), rate);
    } finally {
      code = await lb.stop();
    }
    assert.equal(code, 0, lb.log());
    assert.equal(await ours(), "", "no conntrack entry with our marks");
    assert.equal(await settings(), before.settings, "every conntrack setting as before");
    assert.equal(await rules(), before.rules, "every rule and chain as before");
  } finally {
    await nginx.stop();
    await topo.destroy();
  }
});
