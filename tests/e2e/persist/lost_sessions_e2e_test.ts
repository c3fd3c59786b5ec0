/**
 * End to end, real TCP: what becomes of connections whose sessions the balancer really lost,
 * and of sessions that expired while no daemon ran
 * (README "When a session really is gone"). Two idle connections cross a FULLNAT service; the
 * daemon is killed and its session table corrupted, so the next daemon refuses it. Then:
 *
 * - the client of a lost connection that sends gets a RST at once (no-session policy), instead
 *   of retrying for minutes;
 * - the real server's side of a lost connection that sends is reset (the box's own stack
 *   answers for the local address);
 * - a new connection handed the local port of a lost one that the real server still holds
 *   idle makes the server answer its SYN with a challenge ACK; the engine resets that orphan
 *   and the client's SYN retransmission connects.
 */
import assert from "node:assert/strict";
import { createTopology } from "../../../testkit/netns.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { echoThroughBalancer, type LinePeer } from "../../../testkit/line_peer.ts";

const PORT = 9000;

Deno.test("e2e: sessions lost with a refused table: the client is reset, the real server's orphans are reset, their ports connect again", async () => {
  const topo = await createTopology();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-lost-" });
  const runDir = `${dir}/run`;
  // Four ports: the new daemon hands out the lost connections' ports first.
  const args = ["--run-dir", runDir, "--state-dir", `${dir}/state`, "--local-ports", "5000-5003"];
  let lb: Balancer | undefined;
  const peers: LinePeer[] = [];
  try {
    lb = await startBalancer(topo, args);
    const { server, client } = await echoThroughBalancer(topo, lb, PORT, peers);
    const port: Record<string, string> = {};
    for (const name of ["a", "b"]) {
      await client.say(`open ${name}`);
      await client.expect(new RegExp(`opened ${name} \\d+`));
      port[name] = (await server.expect(/accept (\d+)/))[1];
      await client.say(`send ${name} hello`);
      await client.expect(new RegExp(`reply ${name} hello \\d+`));
    }
    assert.deepEqual([port.a, port.b], ["5000", "5001"]);

    await lb.kill();
    lb = undefined;
    const f = await Deno.open(`${runDir}/worker-0.sessions`, { write: true });
    await f.write(new TextEncoder().encode("not a table any more"));
    f.close();
    lb = await startBalancer(topo, args);
    assert.match(lb.log(), /session table not taken over: it is not a fullnat session table/);

    // The client of lost connection a: a RST, not minutes of retries.
    await client.say("send a again");
    const reset = await client.expect(/(reset|timeout|reply|closed) a ?(\d*)/, 20_000);
    assert.equal(reset[1], "reset", `the lost connection's client got: ${reset[0]}`);
    console.log(`lost connection's client reset after ${reset[2]} ms`);

    // The real server's side of lost connection b speaks: the box's stack resets it.
    await server.say(`poke ${port.b}`);
    await server.expect(new RegExp(`poked ${port.b}`));
    await server.expect(new RegExp(`reset ${port.b}`), 10_000);

    // Connection a's server side is still open, idle: a new connection gets its port 5000.
    await server.say("list");
    assert.match((await server.expect(/open[\d ]*/))[0], new RegExp(`\\b${port.a}\\b`));
    await client.say("open c");
    const opened = await client.expect(/(opened|failed) c (\S+)/, 20_000);
    assert.equal(opened[1], "opened", opened[0]);
    await server.expect(new RegExp(`reset ${port.a}`));
    assert.equal((await server.expect(/accept (\d+)/))[1], port.a, "the orphan's port, now free");
    console.log(`new connection on an orphan's port connected in ${opened[2]} ms`);
    await client.say("send c hello");
    await client.expect(/reply c hello \d+/);

    const st = await lb.status();
    assert.ok(st.engine.noSessionResets >= 1, `noSessionResets ${st.engine.noSessionResets}`);
    assert.equal(st.engine.orphansReset, 1);
  } finally {
    for (const p of peers) await p.close();
    if (lb) await lb.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("e2e: a session that expired while no daemon ran is reset at both ends when the daemon comes back", async () => {
  const topo = await createTopology();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-gap-" });
  const args = ["--run-dir", `${dir}/run`, "--state-dir", `${dir}/state`];
  let lb: Balancer | undefined;
  const peers: LinePeer[] = [];
  try {
    lb = await startBalancer(topo, args);
    const { server, client } = await echoThroughBalancer(topo, lb, PORT, peers);
    // ESTABLISHED sessions expire after 2 s of silence.
    await lb.ipvsadmOk("--set", "2", "0", "0");
    await client.say("open a");
    await client.expect(/opened a \d+/);
    const port = (await server.expect(/accept (\d+)/))[1];
    await client.say("send a hello");
    await client.expect(/reply a hello \d+/);

    await lb.kill();
    lb = undefined;
    // Longer than the timeout, with no daemon to expire anything.
    await new Promise((r) => setTimeout(r, 3000));
    lb = await startBalancer(topo, args);
    assert.match(
      lb.log(),
      /took over 1 session\(s\) in \d+ ms, 1 of them expired while no daemon ran/,
    );
    // Both ends were reset: the server's socket at once, the client's on its next send.
    await server.expect(new RegExp(`reset ${port}`), 10_000);
    await client.say("send a late");
    const r = await client.expect(/(reset|timeout|reply|closed) a ?(\d*)/, 20_000);
    assert.equal(r[1], "reset", r[0]);
    const st = await lb.status();
    assert.equal(st.engine.expiryResets, 1);
    assert.equal(st.sessions, 0);
  } finally {
    for (const p of peers) await p.close();
    if (lb) await lb.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
