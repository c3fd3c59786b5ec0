/**
 * End to end, both directions of an HA pair's failure (issue 14 point 3) on the HA bed
 * (testkit/ha_bed.ts), with the daemons, sync and keepalived as in failover_e2e_test.ts:
 *
 * 1. lb1's links (front, back, sync) are taken down mid-transfer instead of a kill: keepalived
 *    on lb2 takes the addresses, and a 500 MB download and a 500 MB upload complete
 *    byte-identical through lb2.
 * 2. While lb1 is away, a fleet of idle connections is made through lb2.
 * 3. lb1 comes back (links up, its daemon and keepalived restarted, empty): it does not take the
 *    addresses back (nopreempt, though its priority is higher), and it learns the sessions made
 *    meanwhile from lb2's master (`--sync-refresh`): its `ipvsadm -L -n -c` lists them.
 * 4. lb2 is killed whole: lb1 takes over and every connection made in lb2's time answers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import {
  createHaBed,
  HA_ADDRS,
  type HaBed,
  type HaBox,
  haDocument,
  haSection,
  holds,
  type IdleFleet,
  type Keepalived,
  killBox,
  limitRate,
  setLinks,
  startFleetServer,
  startIdleFleet,
  startKeepalived,
} from "../../../testkit/ha_bed.ts";
import { fetchHashStream, sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";
import { waitFor } from "../../../testkit/wait.ts";

const BULK_PORT = 9410;
const IDLE_PORT = 9411;
/** Connections made through lb2 while lb1 is away. */
const IDLE = 50;
/** The 500 MB each way at 400 Mbit/s: about 11 s, so the links go down mid-transfer. */
const BYTES = 500 * 1024 * 1024;
const RATE = "400mbit";
/** The upload's port (a hashing sink on the real server). */
const UPLOAD_PORT = 9412;
/** Seconds between refreshes of a master's own sessions (`--sync-refresh`) in this test. */
const REFRESH_S = 2;

const A = HA_ADDRS;

/** The sessions `lb` lists to the idle port, without their time left: `proto state from ...`. */
async function idleSessions(lb: Balancer): Promise<string[]> {
  const out = await lb.ipvsadmOk("-L", "-n", "-c");
  return out.trim().split("\n").slice(2)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[4] === `${A.vip}:${IDLE_PORT}` && c[2] === "ESTABLISHED")
    .map((c) => [c[0], ...c.slice(2)].join(" "))
    .sort();
}

Deno.test("e2e: ha: lb1's links down mid-download, lb1 back without taking the VIP, learns lb2's sessions, takes over from lb2", async () => {
  const bed: HaBed = await createHaBed("fnhb");
  const dir = await Deno.makeTempDir({ prefix: "fullnat-ha-" });
  const lbs: Partial<Record<HaBox, Balancer>> = {};
  const kas: Partial<Record<HaBox, Keepalived>> = {};
  let fleet: IdleFleet | undefined;
  try {
    await Deno.writeTextFile(`${dir}/sync.key`, "an e2e shared sync key for the pair\n");
    await Deno.writeTextFile(
      `${dir}/config.json`,
      haDocument([
        { protocol: "tcp", port: BULK_PORT },
        { protocol: "tcp", port: IDLE_PORT },
        { protocol: "tcp", port: UPLOAD_PORT },
      ]),
    );
    const start = async (box: HaBox) => {
      const lb = await startBalancer({ lb: bed.names[box] }, [
        "--sync-key-file",
        `${dir}/sync.key`,
        "--sync-refresh",
        `${REFRESH_S}`,
      ]);
      lbs[box] = lb;
      const r = await lb.cli("config", "apply", `${dir}/config.json`);
      assert.equal(r.code, 0, r.stderr);
      return lb;
    };
    let lb1 = await start("lb1");
    const lb2 = await start("lb2");

    // Each way behind a rate limit: the real server's link down, the client's up.
    await limitRate(bed, ["rs", "client"], RATE);
    await startHashServer(bed, "source", A.rs, BULK_PORT);
    await startHashServer(bed, "sink", A.rs, UPLOAD_PORT);
    await startFleetServer(bed, IDLE_PORT);

    kas.lb1 = await startKeepalived(bed, "lb1", dir, haSection(150, A.front.lb2));
    await waitFor(() => holds(bed, "lb1", A.vip), { timeoutMs: 15_000, intervalMs: 100 });
    kas.lb2 = await startKeepalived(bed, "lb2", dir, haSection(100, A.front.lb1));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await holds(bed, "lb2", A.vip), false, "lb2 stays backup");

    // 1. The download through lb1; once lb2 holds its session, lb1's links go down.
    const started = performance.now();
    let done = false;
    const download = fetchHashStream(bed, A.vip, BULK_PORT, BYTES, 4321, 120).finally(() =>
      done = true
    );
    const upload = sendHashStream(bed, A.vip, UPLOAD_PORT, BYTES, 8765, 120).finally(() =>
      done = true
    );
    await waitFor(async () => (await lb2.status()).sessions >= 2, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(done, false, "the download was still running when the links went down");
    const downAt = performance.now();
    await setLinks(bed, "lb1", false);
    await waitFor(() => holds(bed, "lb2", A.vip), { timeoutMs: 15_000, intervalMs: 50 });
    const takeoverMs = performance.now() - downAt;
    assert.ok(await holds(bed, "lb2", A.laddr), "the local address followed the VIP");
    const d = await download;
    assert.ok(d.got !== undefined && d.got === d.expected, d.output);
    assert.equal(d.bytes, BYTES);
    assert.ok(d.gapAt! > 0 && d.gapAt! < BYTES, "the gap was mid-transfer");
    const u = await upload;
    assert.ok(u.sent, `upload: ${u.output}`);
    assert.equal(u.got, u.sent, "the real server hashed exactly what the client sent");
    console.log(
      `ha links down: lb1's links went down ${Math.round(downAt - started)} ms into the ` +
        `download; lb2 held the addresses ${Math.round(takeoverMs)} ms later; longest gap ` +
        `${d.gapMs} ms after ${d.gapAt} bytes; ${BYTES} bytes each way byte-identical in ` +
        `${Math.round(performance.now() - started)} ms`,
    );

    // 2. lb2's time: connections made while lb1 is away.
    fleet = await startIdleFleet(bed, "tcp", IDLE_PORT, IDLE);
    assert.equal(fleet.opened, IDLE);
    const made = await idleSessions(lb2);
    assert.equal(made.length, IDLE, "lb2 lists the fleet's sessions");

    // 3. lb1 comes back: its daemon and keepalived restarted (empty), its links up.
    await kas.lb1.stop();
    await lb1.stop();
    delete lbs.lb1;
    assert.equal(await holds(bed, "lb1", A.vip), false, "keepalived gave the VIP up (FAULT)");
    await setLinks(bed, "lb1", true);
    const backAt = performance.now();
    lb1 = await start("lb1");
    kas.lb1 = await startKeepalived(bed, "lb1", dir, haSection(150, A.front.lb2));
    // It learns what lb2 made meanwhile, within a refresh or two.
    let learned: string[] = [];
    await waitFor(async () => {
      learned = await idleSessions(lb1);
      return learned.length >= IDLE;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    const learnedMs = performance.now() - backAt;
    assert.deepEqual(learned, made, "lb1 lists the sessions made on lb2 while it was away");
    // nopreempt: after more than VRRP's master-down interval (3 adverts + skew), and through
    // the learning, lb2 still holds the addresses and lb1 none.
    const watchUntil = backAt + 6000;
    while (performance.now() < watchUntil) {
      assert.equal(await holds(bed, "lb1", A.vip), false, "lb1 took the VIP back");
      assert.ok(await holds(bed, "lb2", A.vip), "lb2 lost the VIP");
      await new Promise((r) => setTimeout(r, 250));
    }
    const st = JSON.parse((await lb1.cli("status", "--json")).stdout);
    const backup = st.sync.find((s: { backup?: unknown }) => s.backup).backup;
    console.log(
      `ha failback: lb1 back (daemon restarted empty) listed the ${IDLE} sessions made on lb2 ` +
        `${Math.round(learnedMs)} ms after its links came up (--sync-refresh ${REFRESH_S}); ` +
        `lb2 kept the VIP (nopreempt); lb1's backup counters: ${JSON.stringify(backup)}`,
    );

    // 4. lb2 dies: lb1 takes over, and the connections made in lb2's time carry on.
    const killedAt = performance.now();
    await killBox(bed, "lb2");
    delete lbs.lb2;
    delete kas.lb2;
    await waitFor(() => holds(bed, "lb1", A.vip), { timeoutMs: 15_000, intervalMs: 50 });
    const backTakeoverMs = performance.now() - killedAt;
    assert.ok(await holds(bed, "lb1", A.laddr));
    const again = await fleet.again();
    console.log(
      `ha failback: lb2 killed; lb1 held the addresses ${Math.round(backTakeoverMs)} ms later; ` +
        `${again} of ${IDLE} connections made through lb2 answered through lb1`,
    );
    assert.equal(again, IDLE);
  } catch (e) {
    for (const [box, k] of Object.entries(kas)) {
      console.error(`--- keepalived ${box} ---\n${k.log()}`);
    }
    for (const [box, lb] of Object.entries(lbs)) {
      console.error(`--- ${box} daemon ---\n${lb.log()}`);
    }
    throw e;
  } finally {
    await fleet?.close();
    for (const lb of Object.values(lbs)) await lb.stop().catch(() => {});
    await bed.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
