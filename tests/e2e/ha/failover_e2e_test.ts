/**
 * End to end, an HA pair failing over with real traffic (issue 14 point 4): the HA bed
 * (testkit/ha_bed.ts: client, lb1, lb2, real server on bridges), the real daemon in each
 * balancer with the same configuration document (a FULLNAT service and a `sync` section that
 * runs a master and a backup sync daemon on sync0, signed), and keepalived in each balancer
 * running the VRRP instance that provisioning's generator writes (src/provision/
 * keepalived_conf.ts: the VIP on eth0 and the local address on eth1 float, nopreempt, unicast
 * to the peer).
 *
 * While a rate-limited download and a rate-limited upload run through lb1, and 1,000 idle
 * FULLNAT connections, 100 idle IPv6 FULLNAT connections, 100 idle NAT connections (the real
 * server's replies through the floating gateway) and 100 UDP flows sit established, every process of lb1 (its daemon and
 * keepalived) is killed with SIGKILL. Both transfers must complete byte-identical through lb2
 * and each idle connection and flow must still exchange a line; the gaps the transfers saw and
 * keepalived's takeover time are printed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import {
  createHaBed,
  HA_ADDRS,
  haDocument,
  haSection,
  holds,
  type IdleFleet,
  type Keepalived,
  killBox,
  limitRate,
  startFleetServer,
  startIdleFleet,
  startKeepalived,
} from "../../../testkit/ha_bed.ts";
import { fetchHashStream, sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";
import { waitFor } from "../../../testkit/wait.ts";

const BULK_PORT = 9400;
const IDLE_PORT = 9401;
const NAT_PORT = 9402;
const UPLOAD_PORT = 9403;
const IDLE = 1000;
const NAT_IDLE = 100;
const UDP_FLOWS = 100;
const V6_IDLE = 100;
/** The 500 MB each way at 400 Mbit/s: about 11 s, so the kill lands mid-transfer. */
const BYTES = 500 * 1024 * 1024;
/** 500 MB up at 400 Mbit/s (the client's link limited). */
const UP_BYTES = 500 * 1024 * 1024;
const RATE = "400mbit";

const A = HA_ADDRS;

Deno.test("e2e: ha: lb1 killed mid-transfer; a download and an upload complete byte-identical via lb2; idle FULLNAT (IPv4 and IPv6), NAT and UDP sessions live on", async () => {
  const bed = await createHaBed();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-ha-" });
  let lb1: Balancer | undefined;
  let lb2: Balancer | undefined;
  const fleets: IdleFleet[] = [];
  const kas: Keepalived[] = [];
  try {
    await Deno.writeTextFile(`${dir}/sync.key`, "an e2e shared sync key for the pair\n");
    await Deno.writeTextFile(
      `${dir}/config.json`,
      haDocument([
        { protocol: "tcp", port: BULK_PORT },
        { protocol: "tcp", port: IDLE_PORT },
        { protocol: "tcp", port: IDLE_PORT, v6: true },
        { protocol: "udp", port: IDLE_PORT },
        { protocol: "tcp", port: NAT_PORT, method: "nat" },
        { protocol: "tcp", port: UPLOAD_PORT },
      ]),
    );
    const args = ["--sync-key-file", `${dir}/sync.key`];
    lb1 = await startBalancer({ lb: bed.names.lb1 }, args);
    lb2 = await startBalancer({ lb: bed.names.lb2 }, args);
    for (const lb of [lb1, lb2]) {
      const r = await lb.cli("config", "apply", `${dir}/config.json`);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await lb.ipvsadmOk("-L", "--daemon")).split("\n").length, 3);
    }

    // The real server: the bulk source and sink, each way behind a rate limit (the real
    // server's link down, the client's up), and the idle fleets' echo servers.
    await limitRate(bed, ["rs", "client"], RATE);
    await startHashServer(bed, "source", A.rs, BULK_PORT);
    await startHashServer(bed, "sink", A.rs, UPLOAD_PORT);
    await startFleetServer(bed, IDLE_PORT);
    await startFleetServer(bed, IDLE_PORT, A.v6.rs);
    await startFleetServer(bed, NAT_PORT);

    // lb1 first, so it wins the election; lb2 joins as backup.
    kas.push(await startKeepalived(bed, "lb1", dir, haSection(150, A.front.lb2)));
    await waitFor(() => holds(bed, "lb1", A.vip), { timeoutMs: 15_000, intervalMs: 100 });
    assert.ok(await holds(bed, "lb1", A.laddr), "the local address floats with the VIP");
    kas.push(await startKeepalived(bed, "lb2", dir, haSection(100, A.front.lb1)));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await holds(bed, "lb2", A.vip), false, "lb2 stays backup");

    // The idle fleets through lb1, synced to lb2.
    const kinds = [
      { what: "idle FULLNAT connections", proto: "tcp", port: IDLE_PORT, n: IDLE },
      { what: "idle NAT connections", proto: "tcp", port: NAT_PORT, n: NAT_IDLE },
      { what: "UDP flows", proto: "udp", port: IDLE_PORT, n: UDP_FLOWS },
      {
        what: "idle IPv6 FULLNAT connections",
        proto: "tcp",
        port: IDLE_PORT,
        n: V6_IDLE,
        host: A.v6.vip,
      },
    ] as const;
    const fleetsStarted = performance.now();
    for (const k of kinds) {
      const f = await startIdleFleet(bed, k.proto, k.port, k.n, "host" in k ? k.host : A.vip);
      fleets.push(f);
      assert.equal(f.opened, k.n, k.what);
    }
    const idleAll = IDLE + NAT_IDLE + UDP_FLOWS + V6_IDLE;
    await waitFor(async () => (await lb2!.status()).sessions >= idleAll, {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    console.log(
      `ha failover: ${idleAll} idle sessions opened through lb1 and on lb2 in ` +
        `${Math.round(performance.now() - fleetsStarted)} ms`,
    );

    // The download and the upload, through lb1; once lb2 holds their sessions too, lb1 dies
    // whole.
    const started = performance.now();
    let done = false;
    const download = fetchHashStream(bed, A.vip, BULK_PORT, BYTES, 1234, 120).finally(() =>
      done = true
    );
    const upload = sendHashStream(bed, A.vip, UPLOAD_PORT, UP_BYTES, 5678, 120).finally(() =>
      done = true
    );
    await waitFor(async () => (await lb2!.status()).sessions >= idleAll + 2, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(done, false, "both transfers were still running at the kill");
    const killedAt = performance.now();
    const killed = await killBox(bed, "lb1");
    await waitFor(() => holds(bed, "lb2", A.vip), { timeoutMs: 15_000, intervalMs: 50 });
    const takeoverMs = performance.now() - killedAt;
    assert.ok(await holds(bed, "lb2", A.laddr));
    assert.ok(await holds(bed, "lb2", A.v6.vip) && await holds(bed, "lb2", A.v6.laddr));

    const d = await download;
    const totalMs = performance.now() - started;
    assert.ok(d.got !== undefined && d.got === d.expected, d.output);
    assert.equal(d.bytes, BYTES);
    console.log(
      `ha failover: killed ${killed} process(es) of lb1 ${Math.round(killedAt - started)} ms ` +
        `into the download; lb2 held the addresses ${Math.round(takeoverMs)} ms later; the ` +
        `download saw its longest gap of ${d.gapMs} ms after ${d.gapAt} bytes and completed ` +
        `${BYTES} bytes byte-identical in ${Math.round(totalMs)} ms`,
    );
    assert.ok(d.gapAt! > 0 && d.gapAt! < BYTES, "the gap was mid-transfer");
    const u = await upload;
    assert.ok(u.sent !== undefined && u.sent === u.got, u.output);
    console.log(
      `ha failover: the ${UP_BYTES}-byte upload completed byte-identical ` +
        `${Math.round(performance.now() - started)} ms after it began`,
    );

    // Each idle connection and flow answers again, now through lb2.
    const again = await Promise.all(fleets.map((f) => f.again()));
    for (const [i, k] of kinds.entries()) {
      console.log(`ha failover: ${k.what} after the failover: ${again[i]} of ${k.n}`);
    }
    assert.deepEqual(again, kinds.map((k) => k.n));
    const st = JSON.parse((await lb2.cli("status", "--json")).stdout);
    const backup = st.sync.find((s: { backup?: unknown }) => s.backup).backup;
    console.log(`ha failover: lb2's backup sync counters: ${JSON.stringify(backup)}`);
  } catch (e) {
    for (const [i, k] of kas.entries()) console.error(`--- keepalived lb${i + 1} ---\n${k.log()}`);
    if (lb2) console.error(`--- lb2 daemon ---\n${lb2.log()}`);
    throw e;
  } finally {
    for (const f of fleets) await f.close();
    await lb2?.stop();
    await lb1?.stop();
    await bed.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
