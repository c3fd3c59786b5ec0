/**
 * End to end, TCP fidelity of FULLNAT (issue 3): what the wire shows on both sides of the
 * balancer (TOA in the SYN and third ACK, no timestamp, the lowered MSS), 200 MB each way
 * across a real-server link that loses 1% of packets, and resets at both ends when an
 * ESTABLISHED session expires.
 */
import assert from "node:assert/strict";
import { startCapture } from "../../../testkit/capture.ts";
import { HASH_STREAM, sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";
import { decode, type Decoded, type DecodedTcp } from "../../../testkit/oracle.ts";
import { curl } from "../../../testkit/servers.ts";
import { fullnatService, withBed } from "../../../testkit/bed.ts";
import { loseAtRandom } from "../../../testkit/lossy_link.ts";
import { idleExpiry, rstFilter } from "../../../testkit/idle_expiry_run.ts";

/** The TOA scapy shows for `addr:port`: option 254 with port and address in hex. */
function toaHex(addr: string, port: number): string {
  return port.toString(16).padStart(4, "0") +
    addr.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("");
}

function optionNames(t: DecodedTcp): (string | number)[] {
  return t.options.map(([name]) => name);
}

Deno.test("e2e FULLNAT wire: TOA in SYN and third ACK, no timestamp to the RS, MSS lowered by 8", async () => {
  await withBed({}, async (bed) => {
    const lip = bed.topo.addrs.localAddrs[0];
    await fullnatService(bed, [lip]);
    const atRs = await startCapture(bed.topo.rs, "eth0", ["tcp", "port", "80"]);
    const atClient = await startCapture(bed.topo.client, "eth0", ["tcp", "port", "80"]);
    const r = await curl(bed.topo.client, `http://${bed.vip}/`);
    assert.equal(r.status, 200, r.stderr);
    const [rsSide, clientSide] = await Promise.all([
      decode(await atRs.stop()),
      decode(await atClient.stop()),
    ]);
    const tcpOf = (d: Decoded) => d.tcp as DecodedTcp;
    // Client side: the client's own SYN (with timestamp) and the SYN-ACK it got.
    const cSyn = clientSide.find((d) => tcpOf(d).flags === "S");
    const cSynAck = clientSide.find((d) => tcpOf(d).flags === "SA");
    assert.ok(cSyn && cSynAck, "client saw its handshake");
    const cport = tcpOf(cSyn).sport;
    assert.ok(optionNames(tcpOf(cSyn)).includes("Timestamp"), "client SYN had a timestamp");
    // RS side: the SYN from the local address carries TOA and no timestamp.
    const rSyn = rsSide.find((d) => tcpOf(d)?.flags === "S");
    const rSynAck = rsSide.find((d) => tcpOf(d).flags === "SA");
    const rAck = rsSide.find((d) =>
      d.ip?.src === lip && tcpOf(d).flags === "A" && tcpOf(d).payload === ""
    );
    assert.ok(rSyn && rSynAck && rAck, "RS saw the whole handshake");
    assert.equal(rSyn.ip?.src, lip);
    const toa = toaHex(bed.topo.addrs.client, cport);
    assert.deepEqual(tcpOf(rSyn).options[0], [254, toa], "TOA first in the SYN");
    assert.ok(!optionNames(tcpOf(rSyn)).includes("Timestamp"), "timestamp removed");
    assert.ok(tcpOf(rAck).options.some(([k, v]) => k === 254 && v === toa), "TOA in third ACK");
    // The RS's SYN-ACK MSS and what the client got: 8 less.
    const mss = (t: DecodedTcp) => t.options.find(([k]) => k === "MSS")?.[1];
    assert.equal(mss(tcpOf(cSynAck)), (mss(tcpOf(rSynAck)) as number) - 8);
    // Sequence translation: the RS sees another ISN than the client sent.
    assert.notEqual(tcpOf(rSyn).seq, tcpOf(cSyn).seq);
    // Only what arrives is judged: a host's own outgoing packets are captured before checksum
    // offload fills them in.
    const arriving = [
      ...rsSide.filter((d) => d.ip?.src === lip),
      ...clientSide.filter((d) => d.ip?.src === bed.vip),
    ];
    assert.ok(arriving.length >= 6, `${arriving.length} packets from the balancer captured`);
    for (const d of arriving) assert.equal(d.l4ChecksumOk, true, d.summary);
    console.log(
      `captured at the RS: SYN options ${JSON.stringify(tcpOf(rSyn).options)}; ` +
        `third ACK options ${JSON.stringify(tcpOf(rAck).options)}\n` +
        `captured at the client: SYN options ${JSON.stringify(tcpOf(cSyn).options)}; ` +
        `SYN-ACK MSS ${mss(tcpOf(cSynAck))} (RS sent ${mss(tcpOf(rSynAck))})`,
    );
    const st = await bed.lb.status();
    assert.ok(st.engine.toaInserted >= 2, JSON.stringify(st.engine));
    assert.equal(st.engine.timestampsStripped, 1);
    assert.equal(st.engine.mssClamped, 1);
  });
});

Deno.test("e2e FULLNAT: 200 MB each way across 1% loss on the RS link arrive byte-identical", async () => {
  await withBed({}, async (bed) => {
    const rs = bed.topo.addrs.realServers[0];
    const lip = bed.topo.addrs.localAddrs[0];
    for (const port of [9000, 9001]) {
      await bed.lb.ipvsadmOk("-A", "-t", `${bed.vip}:${port}`, "-s", "rr");
      await bed.lb.ipvsadmOk("-a", "-t", `${bed.vip}:${port}`, "-r", `${rs}:${port}`, "-b");
      await bed.lb.ipvsadmOk("-P", "-t", `${bed.vip}:${port}`, "-z", lip);
    }
    const sink = await startHashServer(bed.topo, "sink", "0.0.0.0", 9000);
    const source = await startHashServer(bed.topo, "source", "0.0.0.0", 9001);
    await loseAtRandom(bed.topo, "rs", "eth0", 0.01);
    const bytes = 200 * 1024 * 1024;
    const t0 = performance.now();
    const up = await sendHashStream(bed.topo, bed.vip, 9000, bytes, 11);
    const t1 = performance.now();
    const down = await bed.topo.exec("client", [
      Deno.execPath(),
      "run",
      "-A",
      HASH_STREAM,
      "fetch",
      bed.vip,
      "9001",
      `${bytes}`,
      "12",
    ]);
    const t2 = performance.now();
    const drops = await bed.topo.exec("rs", ["iptables", "-L", "-v", "-n", "-x"]);
    sink.kill();
    source.kill();
    await Promise.allSettled([sink.status, source.status]);
    assert.ok(up.sent, `upload: ${up.output}`);
    assert.equal(up.got, up.sent, "the RS hashed exactly what the client sent");
    const downM = /^expected ([0-9a-f]{64}) got ([0-9a-f]{64}) bytes (\d+)\b/m.exec(down.stdout);
    assert.ok(downM, `download: ${down.stdout} ${down.stderr}`);
    assert.equal(Number(downM[3]), bytes);
    assert.equal(downM[2], downM[1], "the client hashed exactly what the RS sent");
    const dropped = [...drops.stdout.matchAll(/^\s*(\d+)\s+\d+\s+DROP/gm)].map((m) => Number(m[1]));
    // With GRO and GSO the RS link carries super-packets, so 1% of them is tens of drops,
    // each losing many segments at once.
    assert.ok(dropped.length === 2 && dropped.every((n) => n >= 10), `losses: ${dropped}`);
    const st = await bed.lb.status();
    assert.ok(st.engine.sackBlocksTranslated > 0, "SACK blocks were translated");
    console.log(
      `200 MiB up in ${((t1 - t0) / 1000).toFixed(1)} s, down in ${
        ((t2 - t1) / 1000).toFixed(1)
      } s; ` +
        `packets dropped at the RS in/out ${dropped.join("/")}; ` +
        `SACK blocks translated ${st.engine.sackBlocksTranslated}`,
    );
  });
});

Deno.test("e2e FULLNAT: an ESTABLISHED session that expires is reset at both ends", async () => {
  await withBed({}, async (bed) => {
    const rs = bed.topo.addrs.realServers[0];
    await bed.lb.ipvsadmOk("-A", "-t", `${bed.vip}:9002`, "-s", "rr");
    await bed.lb.ipvsadmOk("-a", "-t", `${bed.vip}:9002`, "-r", `${rs}:9002`, "-b");
    await bed.lb.ipvsadmOk("-P", "-t", `${bed.vip}:9002`, "-z", bed.topo.addrs.localAddrs[0]);
    await bed.lb.ipvsadmOk("--set", "2", "7", "300");
    const run = await idleExpiry(bed, {
      port: 9002,
      holdMs: 15_000,
      clientFilter: rstFilter(9002),
      rsFilter: rstFilter(9002),
    });
    const [client, serverOut, waited, atClient, atRs] = [
      run.client,
      run.server,
      run.waitedMs,
      run.atClient,
      run.atRs,
    ];
    assert.match(client, /client reset/, client);
    assert.match(serverOut, /server reset/);
    // On the wire: one bare RST from the VIP to the client, one from the local address to
    // the RS, both with valid checksums.
    assert.equal(atClient.length, 1, JSON.stringify(atClient));
    assert.equal(atRs.length, 1, JSON.stringify(atRs));
    assert.deepEqual(
      [atClient[0].ip?.src, atClient[0].tcp?.sport, atClient[0].tcp?.flags, atClient[0].tcp?.ack],
      [bed.vip, 9002, "R", 0],
    );
    assert.deepEqual(
      [atRs[0].ip?.src, atRs[0].ip?.dst, atRs[0].tcp?.dport, atRs[0].tcp?.flags],
      [bed.topo.addrs.localAddrs[0], rs, 9002, "R"],
    );
    assert.equal(atClient[0].l4ChecksumOk, true);
    assert.equal(atRs[0].l4ChecksumOk, true);
    console.log(`captured RST at the client: ${atClient[0].summary} seq ${atClient[0].tcp?.seq}`);
    console.log(`captured RST at the RS: ${atRs[0].summary} seq ${atRs[0].tcp?.seq}`);
    assert.ok(waited < 10_000, `reset after ${waited} ms`);
    const st = await bed.lb.status();
    assert.equal(st.engine.expiryResets, 1);
    console.log(
      `idle connection reset at both ends ${(waited / 1000).toFixed(1)} s after connecting`,
    );
  });
});
