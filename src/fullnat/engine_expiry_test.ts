/**
 * Expiry and the resets it sends (docs/design.md section 2, seed 4.8), on the rows of
 * testkit/engine_rows/expiry.ts: the rows bring sessions to their states; the clock moves and
 * `expire()` calls are the tests'.
 */
import assert from "node:assert/strict";
import {
  EXPIRY_ESTABLISHED,
  EXPIRY_SILENT_SERVER,
  EXPIRY_TIMEOUTS,
} from "../../testkit/engine_rows/expiry.ts";
import { ipv4 } from "../../testkit/packet_builder.ts";
import { C, engineTest, firstIsn, LIP, RS, setup, VIP } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine.expire() removes sessions after their state's timeout and frees the tuple",
  (run) => {
    const sc = EXPIRY_TIMEOUTS;
    const fx = setup(sc.options);
    const { engine, ctl, clock } = fx;
    sc.configure(ctl);
    const [syn, ack] = sc.rows(clock.ms);
    run.rows(fx, [syn]);
    clock.ms += 4_999;
    assert.equal(engine.expire(), 0);
    run.rows(fx, [ack]);
    assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
    assert.equal(ctl.listServices()[0].realServers[0].activeConns, 1);
    clock.ms += 19_999;
    assert.equal(engine.expire(), 0);
    clock.ms += 1;
    assert.equal(engine.expire(), 1);
    assert.equal(engine.table.size, 0);
    assert.equal(ctl.listServices()[0].realServers[0].activeConns, 0);
    assert.equal(ctl.listServices()[0].localAddresses[0].conns, 0);
    // The same client port gets a fresh session and the next local port.
    run.rows(fx, [syn]);
    assert.equal(ctl.listConnections()[0].local.port, 5001);
  },
);

engineTest(
  "Engine.expire() resets both ends of an ESTABLISHED session with the RS's numbers",
  (run) => {
    const sent: Uint8Array[] = [];
    const { engine, ctl, clock } = run.scenario(EXPIRY_ESTABLISHED, {
      emit: (b, o, len) => sent.push(b.slice(o, o + len)),
    });
    const D = (firstIsn(clock.ms) - 1000) >>> 0;
    assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
    clock.ms += 10_001;
    assert.equal(engine.expire(), 1);
    const rst = (src: string, dst: string, sport: number, dport: number, seq: number) =>
      ipv4({ src, dst, ttl: 64, id: 0, df: true })
        .tcp({ sport, dport, flags: "R", seq, ack: 0, window: 0 }).build();
    assert.deepEqual(sent, [
      rst(LIP, RS, 5000, 8080, (1011 + D) >>> 0), // the RS at the last ack it sent, in its space
      rst(VIP, C, 80, 40000, 9006), // the client at the end of the RS's data
    ]);
    assert.equal(engine.counters.expiryResets, 1);
    run.keep(...sent);
  },
);

engineTest(
  "Engine.expire() sends nothing when resets are off or the session never got going",
  (run) => {
    const sent: Uint8Array[] = [];
    const sc = EXPIRY_SILENT_SERVER;
    const fx = run.scenario(sc, {
      emit: (b, o, len) => sent.push(b.slice(o, o + len)),
      resetOnExpiry: false,
    });
    const { engine, ctl, clock } = fx;
    assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
    clock.ms += 1_000_000;
    assert.equal(engine.expire(), 1);
    assert.deepEqual(sent, []);
    engine.resetOnExpiry = true;
    run.rows(fx, sc.rows(clock.ms));
    clock.ms += 1_000_000;
    assert.equal(engine.expire(), 1);
    assert.deepEqual(sent, [], "no RS segment seen: nothing to base the resets on");
    assert.equal(engine.counters.expiryResetsSkipped, 1);
  },
);
