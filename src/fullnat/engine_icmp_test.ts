/**
 * ICMP (docs/design.md section 2, seed 4.7) and other protocols (seed 5.2) on the rows of
 * testkit/engine_rows/icmp.ts: errors about a session translated in both directions, in IPv4
 * and IPv6, errors about nothing passed on, AH/ESP to a VIP dropped and counted.
 */
import assert from "node:assert/strict";
import {
  ICMP6_BOTH_WAYS,
  ICMP_NO_SESSION_AND_IPSEC,
  ICMP_TCP_BOTH_WAYS,
  ICMP_UDP_UNREACHABLE,
} from "../../testkit/engine_rows/icmp.ts";
import { ipv6 } from "../../testkit/packet_builder.ts";
import { ICMP_TO_DIRECT_SERVERS } from "../../testkit/engine_rows/icmp_direct.ts";
import { C6, engineTest, isn6, LIP6, RS6, VIP6 } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine.handle() translates a port unreachable from the RS back to the UDP client",
  (run) => {
    const { engine } = run.scenario(ICMP_UDP_UNREACHABLE);
    assert.equal(engine.counters.icmpErrorsTranslated, 1);
  },
);

engineTest(
  "Engine.handle() translates TCP errors both ways, sequence numbers and MTU included",
  (run) => {
    const { engine } = run.scenario(ICMP_TCP_BOTH_WAYS);
    assert.equal(engine.counters.icmpErrorsTranslated, 4);
  },
);

engineTest(
  "Engine.handle() passes ICMP that concerns no session and drops AH/ESP to a VIP",
  (run) => {
    const c = run.scenario(ICMP_NO_SESSION_AND_IPSEC).engine.counters;
    assert.deepEqual(
      [
        c.icmpPassed,
        c.icmpNoSession,
        c.icmpMalformedQuote,
        c.otherProtocolDropped,
        c.otherProtocol,
      ],
      [1, 1, 1, 2, 1],
    );
  },
);

engineTest(
  "Engine.handle() IPv6 ICMP errors both ways, packet too big, and resets on expiry",
  (run) => {
    const sent: Uint8Array[] = [];
    const { engine, ctl, clock } = run.scenario(ICMP6_BOTH_WAYS, {
      emit: (b, o, n) => sent.push(b.slice(o, o + n)),
    });
    const D = (isn6(clock.ms) - 1000) >>> 0;
    assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
    clock.ms += 10_001;
    assert.equal(engine.expire(), 1);
    const rst = (src: string, dst: string, sport: number, dport: number, seq: number) =>
      ipv6({ src, dst }).tcp({ sport, dport, flags: "R", seq, ack: 0, window: 0 }).build();
    assert.deepEqual(sent, [
      rst(LIP6, RS6, 5000, 8080, (1001 + D) >>> 0),
      rst(VIP6, C6, 80, 40000, 7001),
    ]);
    run.keep(...sent);
    const c = engine.counters;
    assert.deepEqual(
      [c.toaFragNeeded, c.icmpErrorsTranslated, c.icmpPassed, c.otherProtocolDropped],
      [1, 2, 1, 1],
    );
  },
);

engineTest(
  "Engine.handle() sends errors about DR and TUNNEL replies to their real server unchanged",
  (run) => {
    const { engine } = run.scenario(ICMP_TO_DIRECT_SERVERS);
    const c = engine.counters;
    assert.deepEqual(
      [c.icmpErrorsRouted, c.icmpErrorsTunnelled, c.icmpErrorsNotForwarded, c.icmpErrorsTranslated],
      [1, 1, 1, 0],
    );
    assert.equal(c.drRouted, 1, "the DR SYN only: an error is not a forwarded packet");
  },
);
