/**
 * Engine cost of one whole short connection at a steady 20k conn/s, as the peer benchmark's
 * connection load drives it: one client address whose ports come round every few seconds,
 * nine packets from SYN to the last ACK (the request and the response each in one segment,
 * the server closing first), and the clock moving 50 µs per connection. The client's 64k ports
 * come round every 3.2 s, within the 7 s closing timeouts, so every port keeps a live session
 * that its next SYN reopens, as on the benchmark's balancer. Expiry runs once per simulated
 * second, as in the daemon's worker, and its cost is in the figures.
 *
 *   deno bench -A bench/engine_conn_bench.ts
 *
 * Beside it, the same connection to a service with the SYN proxy (`-j enable`, issue 16 point 7:
 * what the proxy costs a normal connection): the client's SYN answered with a cookie, its ACK
 * checked and turned into the SYN to the real server, the server's SYN-ACK learnt and the held
 * ACK run through the engine again (ten engine passes for the same nine packets on the wire),
 * then the same data, both sequence deltas applied. Each case has an engine of its own.
 *
 * The figure to compare with the balancer's CPU per connection in docs/benchmark.md.
 *
 * @module
 */
import type { PacketBuilder } from "../testkit/packet_builder.ts";
import {
  C,
  fullnatService,
  LIPS,
  RS,
  RS_PORT,
  setup,
  tcp,
  VIP,
} from "../testkit/engine_fixture.ts";
import { Verdict } from "../src/nfqueue/handler.ts";
import { fillTcpChecksum } from "../src/fullnat/syn_proxy.ts";
import { INET } from "../src/fullnat/family_ipv4.ts";

const MS_PER_CONN = 0.05;
const EXPIRE_EVERY = 20_000;
const PORT_LOW = 1024;
const PORT_SPAN = 65536 - PORT_LOW;

/** A connection's packets through one engine, and its steady state. */
interface Bench {
  /** Runs the next connection; throws on any unexpected verdict. */
  connection(): void;
  /** Sessions live after the warm-up. */
  live: number;
}

// Ports, sequence numbers and the local address are set per connection.
const fromClient = (flags: string, payload = 0) =>
  tcp(C, VIP, 40000, 80, flags, 1).payload(new Uint8Array(payload));
const fromServer = (flags: string, payload = 0) =>
  tcp(RS, LIPS[0], RS_PORT, 5000, flags, 1).payload(new Uint8Array(payload));
const synOptions = (p: PacketBuilder) =>
  p.mss(1460).sackPermitted().timestamp(12345, 0).nop().wscale(7);

/** Writes `v` at `b[at, at+4)`, big-endian. */
function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24, b[at + 1] = v >>> 16, b[at + 2] = v >>> 8, b[at + 3] = v;
}
/** Reads a big-endian word at `at`. */
function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/**
 * A bench of one engine serving a connection per call: `proxy` puts the service behind the SYN
 * proxy. The script's packets are patched per connection: the client's port and ISN, the
 * server-side local address and port the engine picked, and with the proxy the cookie acked
 * and the balancer's ISN acked by the server.
 */
function bench(proxy: boolean): Bench {
  const { clock, engine, ctl } = setup({
    capacity: 1 << 20,
    localPortRange: [1025, 65535],
    // The held ACK the proxy sends on once the server answered: what the raw socket costs is
    // not the engine's.
    emit: () => {},
  });
  const key = fullnatService(ctl, [RS], LIPS);
  if (proxy) ctl.editService(key, { synProxy: true });
  /** One connection's packets in order: the real server's or the client's; what the verdict must be. */
  const script: [PacketBuilder, boolean, Verdict][] = proxy
    ? [
      [synOptions(fromClient("S")), false, Verdict.Rewritten],
      // The cookie ACK (its ack patched), which becomes the SYN to the server.
      [fromClient("A"), false, Verdict.Rewritten],
      // The server's SYN-ACK: dropped; the held ACK goes on through the engine.
      [synOptions(fromServer("SA")), true, Verdict.Drop],
    ]
    : [
      [synOptions(fromClient("S")), false, Verdict.Rewritten],
      [synOptions(fromServer("SA")), true, Verdict.Rewritten],
      [fromClient("A"), false, Verdict.Rewritten],
    ];
  script.push(
    [fromClient("PA", 90), false, Verdict.Rewritten],
    [fromServer("PA", 250), true, Verdict.Rewritten],
    [fromServer("FA"), true, Verdict.Rewritten],
    [fromClient("A"), false, Verdict.Rewritten],
    [fromClient("FA"), false, Verdict.Rewritten],
    [fromServer("A"), true, Verdict.Rewritten],
  );
  const packets = script.map(([p, rs, verdict]) => ({ bytes: p.build(), rs, verdict }));
  const buf = new Uint8Array(2048);
  // Where the SYN to the real server comes out: packet 0 without the proxy, 1 with it.
  const opens = proxy ? 1 : 0;
  let conn = 0;

  function connection(): void {
    const cport = PORT_LOW + conn % PORT_SPAN;
    // A new ISN each time the port comes round, as the client's stack would choose.
    const isn = Math.imul(conn, 2654435761) >>> 0;
    let lip0 = 0, lip1 = 0, lip2 = 0, lip3 = 0, lport = 0, cookie = 0, ourIsn = 0;
    for (let i = 0; i < packets.length; i++) {
      const { bytes, rs, verdict } = packets[i];
      buf.set(bytes);
      if (rs) {
        buf[16] = lip0, buf[17] = lip1, buf[18] = lip2, buf[19] = lip3;
        buf[22] = lport >>> 8, buf[23] = lport;
        // The server's SYN-ACK acks the balancer's SYN (the proxy checks it does).
        if (proxy && i === 2) put32(buf, 28, ourIsn + 1);
      } else {
        buf[20] = cport >>> 8, buf[21] = cport;
        put32(buf, 24, i === 0 ? isn : isn + 1);
        if (proxy && i === 1) put32(buf, 28, cookie + 1);
        // The packets that open a connection have their checksum checked (the proxy's SYN
        // and cookie ACK, a plain SYN): the edits above must leave it right.
        if (i <= opens) fillTcpChecksum(INET, buf, 0, 20, bytes.length);
      }
      const v = engine.handle(buf, 0, bytes.length, buf.length);
      if (v !== verdict) throw new Error(`packet ${i}: verdict ${v}`);
      if (proxy && i === 0) cookie = get32(buf, 24);
      if (i === opens) {
        lip0 = buf[12], lip1 = buf[13], lip2 = buf[14], lip3 = buf[15];
        lport = (buf[20] << 8) | buf[21];
        ourIsn = get32(buf, 24);
      }
    }
    clock.ms += MS_PER_CONN;
    if (++conn % EXPIRE_EVERY === 0) engine.expire();
  }

  // Steady state first: enough connections for the closing states to fill and start expiring.
  for (let i = 0; i < 400_000; i++) connection();
  const live = engine.table.size;
  if (live < PORT_SPAN) throw new Error(`only ${live} live sessions at steady state`);
  if (proxy && engine.counters.synProxyServerAnswered !== 400_000) {
    throw new Error(`${engine.counters.synProxyServerAnswered} proxied connections completed`);
  }
  return { connection, live };
}

const plain = bench(false);
const proxied = bench(true);

Deno.bench(
  `one connection, 9 packets, ~${Math.round(plain.live / 1000)}k sessions live`,
  { group: "connection", baseline: true },
  () => plain.connection(),
);
Deno.bench(
  `the same through the SYN proxy (10 engine passes), ~${Math.round(proxied.live / 1000)}k live`,
  { group: "connection" },
  () => proxied.connection(),
);
