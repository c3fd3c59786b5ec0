/**
 * End to end, what the kernel fast path (`--offload established`) must not lose (issue 15
 * point 3 and 5), on real traffic with GSO on: an offloaded idle session that the kernel
 * expires is still reset at both ends with sequence numbers both kernels accept (found by the
 * engine's probe, `offload_expiry.ts`), and an offloaded transfer whose kernel entry is
 * deleted by hand carries on through the queue byte-identical.
 */
import assert from "node:assert/strict";
import { startCapture } from "../../../testkit/capture.ts";
import { decode } from "../../../testkit/oracle.ts";
import { waitFor } from "../../../testkit/servers.ts";
import { withBed } from "../../../testkit/bed.ts";

const IDLE_PROBE = new URL("../../../testkit/idle_probe.ts", import.meta.url).pathname;
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
    const server = bed.topo.spawn("rs", [
      Deno.execPath(),
      "run",
      "-A",
      IDLE_PROBE,
      "server",
      "0.0.0.0",
      "9002",
    ], { stdout: "piped" });
    let serverOut = "";
    const pump = (async () => {
      const dec = new TextDecoder();
      for await (const c of server.stdout) serverOut += dec.decode(c, { stream: true });
    })();
    await waitFor(() => serverOut.includes("listening"), { timeoutMs: 10_000, what: "server" });
    const rstFilter = ["tcp", "port", "9002", "and", "tcp[tcpflags]", "&", "tcp-rst", "!=", "0"];
    const rstAtClient = await startCapture(bed.topo.client, "eth0", rstFilter);
    const atRs = await startCapture(bed.topo.rs, "eth0", ["tcp", "port", "9002"]);
    const t0 = performance.now();
    // The server greets (its data makes the session offloadable), then both sides wait.
    const client = await bed.topo.exec("client", [
      Deno.execPath(),
      "run",
      "-A",
      IDLE_PROBE,
      "client",
      bed.vip,
      "9002",
      "20000",
    ]);
    const waited = performance.now() - t0;
    await waitFor(() => /server (reset|eof|error)/.test(serverOut), {
      timeoutMs: 5000,
      what: `server outcome (${serverOut})`,
    });
    server.kill();
    await server.status;
    await pump;
    const [atClient, rsSide] = await Promise.all([
      rstAtClient.stop().then(decode),
      atRs.stop().then(decode),
    ]);
    const st = (await bed.lb.status()) as unknown as OffloadStatus;
    const c = st.engine;
    // Each kernel took the RST: Linux accepts one only at exactly RCV.NXT (RFC 5961), any
    // other in the window draws a challenge ACK and the socket lives on.
    assert.match(client.stdout, /client reset/, client.stdout + client.stderr);
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
    // Its packets came to the queue while the session still read as offloaded (counted), and
    // once the destroy event was read the session carried on in the engine.
    assert.ok(c.offloadFallback >= 1, offloadCounters(c));
    assert.equal(c.offloadGone, 1, offloadCounters(c));
    // Deleted, not expired: no probe, no reset.
    assert.deepEqual([c.offloadExpiryProbes, c.offloadExpiryResets], [0, 0]);
    // Not offered again: the rest went through the queue.
    assert.equal(c.offloaded, 1, offloadCounters(c));
    console.log(`entry deleted mid-transfer: 40 MB byte-identical; ${offloadCounters(c)}`);
  });
});
