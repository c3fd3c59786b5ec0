/**
 * The admin commands of issue 18 point 3 in a shell session against an in-process daemon that
 * serves the drain ops: `service add|edit --timeout-* --[no-]one-packet`, `rs add|edit -x -y`,
 * `tunable show|set`, `rs drain --within [--wait]` and `rs drains`, with what they print and
 * the status of mistakes.
 */
import assert from "node:assert/strict";
import { ControlServer } from "../../../src/ctl/server.ts";
import { localRemote } from "../../../src/ctl/remote.ts";
import { Drains } from "../../../src/daemon/drains.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { attachPersistence } from "../../../src/persist/attach.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";
import { shellSession } from "./fixture.ts";

const VIP = "198.51.100.10";

async function withDaemon(
  fn: (s: ReturnType<typeof shellSession>, engine: Engine, ctl: EngineControl) => Promise<void>,
) {
  const engine = new Engine({ clock: () => 0, capacity: 64, localPortRange: [5000, 5063] });
  const ctl = new EngineControl(engine);
  const persistence = await attachPersistence(ctl, { stateDir: null, log: () => {} });
  const server = new ControlServer(persistence.target, { onError: (e) => console.error(e) });
  persistence.register(server);
  const drains = new Drains({
    control: localRemote(persistence.target),
    endSessions: (k, rs) => Promise.resolve(ctl.endServerSessions(k, rs)),
    pollMs: 20,
  });
  server.register("drainStart", (k, rs, o) => drains.start(k, rs, o));
  server.register("drainList", () => drains.list());
  const dir = await Deno.makeTempDir({ prefix: "fullnat-limits-" });
  await server.listen({ path: `${dir}/control.sock` });
  const s = shellSession(`${dir}/control.sock`);
  try {
    await fn(s, engine, ctl);
  } finally {
    drains.stop();
    await s.close();
    await server.close();
    await persistence.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function ok(s: ReturnType<typeof shellSession>, line: string): Promise<string> {
  const r = await s.run(line);
  assert.deepEqual([r.code, r.err], [0, ""], line);
  return r.out;
}

Deno.test("service --timeout-* and --one-packet reach the engine, are shown and refused where wrong", () =>
  withDaemon(async (s, _engine, ctl) => {
    await ok(s, `service add tcp ${VIP}:22 -s rr --timeout-established 900`);
    await ok(s, `service add udp ${VIP}:53 -s rr --one-packet --timeout-udp 5`);
    const [ssh, dns] = ctl.listServices();
    assert.deepEqual([ssh.timeouts, ssh.onePacket], [{ tcpEstablished: 900 }, false]);
    assert.deepEqual([dns.timeouts, dns.onePacket], [{ udp: 5 }, true]);
    const shown = await ok(s, `service show tcp ${VIP}:22`);
    assert.match(shown, /^own timeouts +tcp-established 900s$/m);
    assert.match(await ok(s, `service show udp ${VIP}:53`), /^one-packet +on$/m);
    await ok(s, `service edit tcp ${VIP}:22 --timeout-syn-recv 10`);
    assert.deepEqual(ctl.listServices()[0].timeouts, { tcpEstablished: 900, tcpSynRecv: 10 });
    await ok(s, `service edit tcp ${VIP}:22 --timeout-established 0`);
    assert.deepEqual(ctl.listServices()[0].timeouts, { tcpSynRecv: 10 });
    await ok(s, `service edit udp ${VIP}:53 --no-one-packet`);
    assert.equal(ctl.listServices()[1].onePacket, false);

    const tcpOps = await s.run(`service edit tcp ${VIP}:22 --one-packet`);
    assert.equal(tcpOps.code, 2);
    assert.match(tcpOps.err, /One-packet scheduling \(-o, onePacket\) is for UDP services only/);
    const udpOnTcp = await s.run(`service add tcp ${VIP}:23 --timeout-udp 5`);
    assert.equal(udpOnTcp.code, 2);
    assert.match(udpOnTcp.err, /Timeout udp applies to UDP services only/);
    const zero = await s.run(`service add tcp ${VIP}:24 --timeout-established 0`);
    assert.equal(zero.code, 2, "0 only clears, in an edit");
    assert.equal(ctl.listServices().length, 2, "nothing added");
  }));

Deno.test("rs -x/-y set thresholds; rs list shows them; a lower above the upper is refused", () =>
  withDaemon(async (s, _engine, ctl) => {
    await ok(s, `service add tcp ${VIP}:80 -s rr`);
    await ok(s, `rs add tcp ${VIP}:80 203.0.113.11:80 -x 100 -y 50`);
    await ok(s, `rs add tcp ${VIP}:80 203.0.113.12:80`);
    const listed = await ok(s, `rs list tcp ${VIP}:80`);
    assert.match(listed, / 203\.0\.113\.11:80 +fullnat +1 +100\/50 +0 +0 +0$/m);
    assert.match(listed, / 203\.0\.113\.12:80 +fullnat +1 +- +0 +0 +0$/m);
    await ok(s, `rs edit tcp ${VIP}:80 203.0.113.11:80 --upper-threshold 200`);
    const rs = ctl.listServices()[0].realServers[0];
    assert.deepEqual([rs.upperThreshold, rs.lowerThreshold], [200, 50]);
    const bad = await s.run(`rs edit tcp ${VIP}:80 203.0.113.11:80 -y 300`);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /Lower threshold 300 is higher than upper threshold 200/);
    const word = await s.run(`rs add tcp ${VIP}:80 203.0.113.13:80 -x lots`);
    assert.equal(word.code, 2);
    assert.match(word.err, /'lots' is not a valid connection threshold/);
  }));

Deno.test("tunable show and set", () =>
  withDaemon(async (s, engine) => {
    assert.match(await ok(s, "tunable show"), /^expire-nodest-conn +off +expire_nodest_conn /m);
    await ok(s, "tunable set expire-nodest-conn on");
    assert.equal(engine.expireNodestConn, true);
    assert.deepEqual(JSON.parse(await ok(s, "tunable show --json")), {
      expireNodestConn: true,
      expireQuiescentTemplate: false,
    });
    const exported = await ok(s, "config export");
    assert.match(
      exported,
      /"tunables": \{\n\s+"expireNodestConn": true,\n\s+"expireQuiescentTemplate": false\n\s+\}/,
    );
    const bad = await s.run("tunable set expire-nodest-conn maybe");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /'maybe' is not on or off/);
  }));

Deno.test("rs drain --within --wait: weight 0, then removed at the deadline; rs drains lists it", () =>
  withDaemon(async (s, engine, ctl) => {
    await ok(s, `service add tcp ${VIP}:80 -s rr`);
    await ok(s, `rs add tcp ${VIP}:80 203.0.113.11:80`);
    await ok(s, `rs add tcp ${VIP}:80 203.0.113.12:80`);
    await ok(s, `laddr add tcp ${VIP}:80 203.0.113.201`);
    const p = ipv4({ src: "198.51.100.2", dst: VIP }).tcp({ sport: 40000, dport: 80, flags: "S" })
      .build();
    const buf = new Uint8Array(p.length + 64);
    buf.set(p);
    engine.handle(buf, 0, p.length, buf.length); // to 203.0.113.11
    const out = await ok(s, `rs drain tcp ${VIP}:80 203.0.113.11:80 --within 1 --wait`);
    assert.match(
      out,
      /^#1 tcp 198\.51\.100\.10:80 rs 203\.0\.113\.11:80 done \(deadline\) after 1\.\d\d s: 1 session\(s\) ended, 0 reset at both ends; removed$/,
    );
    assert.deepEqual(ctl.listServices()[0].realServers.map((r) => r.address), ["203.0.113.12"]);
    assert.equal(engine.table.size, 0);
    // Without --wait it answers at once; with nothing to wait for, it is done already.
    const now = await ok(s, `rs drain tcp ${VIP}:80 203.0.113.12:80 --within 30`);
    assert.match(now, /#2 .* done \(no sessions left\)/);
    const list = await ok(s, "rs drains");
    assert.deepEqual(list.split("\n").map((l) => l.slice(0, 2)), ["#2", "#1"]);
    const missing = await s.run(`rs drain tcp ${VIP}:80 203.0.113.99:80`);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /No such destination/);
  }));

Deno.test("rs add|edit --tunnel-type/--tunnel-port/--tunnel-checksum reach the engine, are listed and refused where wrong", () =>
  withDaemon(async (s, _engine, ctl) => {
    await ok(s, `service add tcp ${VIP}:80 -s rr`);
    await ok(
      s,
      `rs add tcp ${VIP}:80 203.0.113.11:80 --method tunnel --tunnel-type gue --tunnel-port 6080`,
    );
    await ok(s, `rs add tcp ${VIP}:80 203.0.113.12:80 --method tunnel`);
    await ok(s, `rs edit tcp ${VIP}:80 203.0.113.11:80 --tunnel-checksum on`);
    const [a, b] = ctl.listServices()[0].realServers;
    assert.deepEqual([a.tunnelType, a.tunnelPort, a.tunnelChecksum], ["gue", 6080, true]);
    assert.deepEqual([b.tunnelType, b.tunnelPort, b.tunnelChecksum], [
      undefined,
      undefined,
      undefined,
    ]);
    const listed = await ok(s, `rs list tcp ${VIP}:80`);
    assert.match(listed, /203\.0\.113\.11:80 +tunnel gue:6080\+csum /);
    assert.match(listed, /203\.0\.113\.12:80 +tunnel +1 /);
    const noPort = await s.run(
      `rs add tcp ${VIP}:80 203.0.113.13:80 --method tunnel --tunnel-type gue`,
    );
    assert.notEqual(noPort.code, 0);
    assert.match(noPort.err, /A gue tunnel needs its UDP port/);
    const wrongMethod = await s.run(
      `rs edit tcp ${VIP}:80 203.0.113.12:80 --method dr --tunnel-type gre`,
    );
    assert.match(wrongMethod.err, /apply to tunnel real servers only, not dr/);
    const unknown = await s.run(
      `rs add tcp ${VIP}:80 203.0.113.13:80 --method tunnel --tunnel-type vxlan`,
    );
    assert.match(unknown.err, /vxlan.*ipip, gue, gre/s);
    assert.equal(ctl.listServices()[0].realServers.length, 2, "nothing added by a refusal");
  }));
