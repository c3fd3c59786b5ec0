/**
 * IPv6 FULLNAT on crafted packets (issue 4): the same rows as IPv4, with the IPv6 TOA
 * (length 20), the MSS lowered by 20, the IPv6 ISN, ICMPv6 errors both ways, "packet too big"
 * answered by the balancer, resets on expiry, and refusals. Expected bytes come from the
 * independent packet builder; scapy re-checks every checksum, pseudo-header included.
 */
import assert from "node:assert/strict";
import { ipv6 } from "../../testkit/packet_builder.ts";
import { engineTest, SECRET, setup } from "../../testkit/engine_fixture.ts";
import type { EngineControl } from "./control.ts";
import { secureIsnV6 } from "./isn.ts";
import { Verdict } from "../nfqueue/handler.ts";
import { parseIpv6 } from "../wire/ipv6.ts";

const C6 = "2001:db8:a::2";
const VIP6 = "2001:db8:a::10";
const LIP6 = "2001:db8:b::201";
const RS6 = "2001:db8:b::11";
const ROUTER6 = "2001:db8:b::99";

const tcp6 = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: string,
  seq: number,
  ack = 0,
) => ipv6({ src, dst, hopLimit: 61 }).tcp({ sport, dport, flags, seq, ack, window: 29200 });

function service6(ctl: EngineControl, protocol: "tcp" | "udp" = "tcp", port = 80) {
  const key = { protocol, address: VIP6, port };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS6, port: 8080, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(key, LIP6);
  return key;
}

function isn6(ms: number, lport = 5000): number {
  const w = new Uint32Array(8);
  w.set(parseIpv6(LIP6)!, 0);
  w.set(parseIpv6(RS6)!, 4);
  return secureIsnV6(SECRET, w, 0, lport, 4, 8080, ms);
}

engineTest(
  "Engine.handle() IPv6 FULLNAT: TOA of 20 bytes, MSS -20, sequence and SACK translated",
  (run) => {
    const { engine, ctl, clock } = setup();
    service6(ctl);
    const D = (isn6(clock.ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    run.rows(engine, [
      {
        what: "SYN: addresses, ISN, TOA first, timestamp blanked",
        input: tcp6(C6, VIP6, 40000, 80, "S", 1000).mss(1440).sackPermitted().timestamp(5, 0).nop()
          .wscale(7),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "S", up(1000)).toa6(C6, 40000).mss(1440)
          .sackPermitted().nop(10).nop().wscale(7),
      },
      {
        what: "SYN-ACK: from the VIP, ack back, MSS lowered by 20",
        input: tcp6(RS6, LIP6, 8080, 5000, "SA", 7000, up(1001)).mss(1440),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "SA", 7000, 1001).mss(1420),
      },
      {
        what: "third ACK with TOA",
        input: tcp6(C6, VIP6, 40000, 80, "A", 1001, 7001),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "A", up(1001), 7001).toa6(C6, 40000),
      },
      {
        what: "RS data",
        input: tcp6(RS6, LIP6, 8080, 5000, "PA", 7001, up(1001)).payload("hello"),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "PA", 7001, 1001).payload("hello"),
      },
      {
        what: "client data after the RS spoke: no TOA",
        input: tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7006).payload("GET /"),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "PA", up(1001), 7006).payload("GET /"),
      },
      {
        what: "RS SACK edges shifted back",
        input: tcp6(RS6, LIP6, 8080, 5000, "A", 7006, up(1001)).nop(2).sack([[up(3000), up(4000)]]),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "A", 7006, 1001).nop(2).sack([[3000, 4000]]),
      },
    ]);
    const [conn] = ctl.listConnections();
    assert.deepEqual([conn.client, conn.local, conn.real], [
      { address: C6, port: 40000 },
      { address: LIP6, port: 5000 },
      { address: RS6, port: 8080 },
    ]);
    const c = engine.counters;
    assert.deepEqual([c.toaInserted, c.mssClamped, c.sackBlocksTranslated], [2, 1, 1]);
  },
);

engineTest(
  "Engine.handle() IPv6 ICMP errors both ways, packet too big, and resets on expiry",
  (run) => {
    const sent: Uint8Array[] = [];
    const { engine, ctl, clock } = setup({ emit: (b, o, n) => sent.push(b.slice(o, o + n)) });
    service6(ctl);
    ctl.setTimeouts({ tcpEstablished: 10 });
    const D = (isn6(clock.ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    const body = "z".repeat(1500 - 40 - 20 - 12);
    run.rows(engine, [
      { what: "SYN", input: tcp6(C6, VIP6, 40000, 80, "S", 1000), verdict: Verdict.Rewritten },
      {
        what: "SYN-ACK",
        input: tcp6(RS6, LIP6, 8080, 5000, "SA", 7000, up(1001)),
        verdict: Verdict.Rewritten,
      },
      {
        what: "a client segment too big for its TOA: packet too big from the VIP, MTU - 20",
        input: tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7001).timestamp(1, 2).payload(body),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6 }).icmp({ type: 2, code: 0, rest: 1480 })
          .embed(tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7001).timestamp(1, 2).payload(body), 48),
      },
      {
        what: "ACK",
        input: tcp6(C6, VIP6, 40000, 80, "A", 1001, 7001),
        verdict: Verdict.Rewritten,
      },
      {
        what: "packet too big from a router before the RS: the client learns MTU - 20",
        input: ipv6({ src: ROUTER6, dst: LIP6 }).icmp({ type: 2, code: 0, rest: 1400 })
          .embed(tcp6(LIP6, RS6, 5000, 8080, "PA", up(1001), 7001).payload("q".repeat(30))),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6 }).icmp({ type: 2, code: 0, rest: 1380 })
          .embed(tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7001).payload("q".repeat(30))),
      },
      {
        what: "unreachable from the client side: the RS learns it, ack in its space",
        input: ipv6({ src: "2001:db8:a::99", dst: VIP6 }).icmp({ type: 1, code: 3 })
          .embed(tcp6(VIP6, C6, 80, 40000, "A", 7001, 1001)),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: LIP6, dst: RS6 }).icmp({ type: 1, code: 3 })
          .embed(tcp6(RS6, LIP6, 8080, 5000, "A", 7001, up(1001))),
      },
      {
        what: "echo request to the VIP goes to the kernel",
        input: ipv6({ src: C6, dst: VIP6 }).icmp({ type: 128, rest: 1 }).payload("ping"),
        verdict: Verdict.Accept,
      },
      {
        what: "ESP to the VIP is dropped",
        input: ipv6({ src: C6, dst: VIP6 }).rawProto(50).payload(new Uint8Array(16)),
        verdict: Verdict.Drop,
      },
    ]);
    assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
    clock.ms += 10_001;
    assert.equal(engine.expire(), 1);
    const rst = (src: string, dst: string, sport: number, dport: number, seq: number) =>
      ipv6({ src, dst }).tcp({ sport, dport, flags: "R", seq, ack: 0, window: 0 }).build();
    assert.deepEqual(sent, [
      rst(LIP6, RS6, 5000, 8080, up(1001)),
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

engineTest("Engine.handle() IPv6 UDP, refusal with a reset, and family mixing refused", (run) => {
  const { engine, ctl } = setup();
  const key = service6(ctl, "udp", 53);
  const udp6 = (src: string, dst: string, sport: number, dport: number) =>
    ipv6({ src, dst }).udp({ sport, dport }).payload("query?");
  run.rows(engine, [
    {
      what: "query",
      input: udp6(C6, VIP6, 3333, 53),
      verdict: Verdict.Rewritten,
      output: udp6(LIP6, RS6, 5000, 8080),
    },
    {
      what: "port unreachable from the RS back to the client",
      input: ipv6({ src: RS6, dst: LIP6 }).icmp({ type: 1, code: 4 }).embed(
        udp6(LIP6, RS6, 5000, 8080),
      ),
      verdict: Verdict.Rewritten,
      output: ipv6({ src: VIP6, dst: C6 }).icmp({ type: 1, code: 4 }).embed(
        udp6(C6, VIP6, 3333, 53),
      ),
    },
  ]);
  const tkey = { protocol: "tcp" as const, address: VIP6, port: 443 };
  ctl.addService(tkey, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(tkey, { address: RS6, port: 443, weight: 1, method: "fullnat" });
  run.rows(engine, [{
    what: "a SYN with no local address to use is refused with a reset from the VIP",
    input: tcp6(C6, VIP6, 41000, 443, "S", 99),
    verdict: Verdict.Rewritten,
    output: ipv6({ src: VIP6, dst: C6 }).tcp({
      sport: 443,
      dport: 41000,
      flags: "RA",
      seq: 0,
      ack: 100,
      window: 0,
    }),
  }]);
  assert.throws(
    () => ctl.addRealServer(key, { address: "203.0.113.11", port: 53, weight: 1, method: "nat" }),
    /is IPv4 but the service is IPv6/,
  );
  assert.throws(() => ctl.addLocalAddress(key, "203.0.113.201"), /is IPv4 but the service is IPv6/);
  assert.deepEqual(ctl.listServices().find((s) => s.port === 53)?.localAddresses.length, 1);
});
