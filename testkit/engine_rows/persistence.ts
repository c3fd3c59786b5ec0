/**
 * Seed 5.1, persistence templates: with persistence on, every connection of a client (or of a
 * client's prefix, `-M`) goes to the real server its first one was scheduled to, for as long as
 * the template lives and follows IPVS's rules; another client is scheduled afresh.
 *
 * The services are NAT over rr, so each SYN's expected output names the real server it must
 * reach, byte for byte: rr alternates, so a SYN that a template did not hold would go to the
 * other server.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import { C, type Row, RS, RS2, RS6, tcp, tcp6, VIP, VIP6 } from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** The second IPv6 real server. */
export const RS6_2 = "2001:db8:b::12";
/**
 * Two IPv6 clients whose addresses' four words XOR to the same value (`::2` and `::2:0:0` in
 * one /48): the key the templates had before they were keyed by the whole address.
 */
export const C6_XOR_A = "2001:db8:a::2";
export const C6_XOR_B = "2001:db8:a::2:0:0";

/** The persistent service key used by every scenario here (IPv4 or IPv6 VIP, port 80). */
export const persistentKey = (v6 = false) => ({
  protocol: "tcp" as const,
  address: v6 ? VIP6 : VIP,
  port: 80,
});

/** VIP:80 (or VIP6:80), rr, persistent, to two NAT real servers on port 80. */
function persistentService(
  ctl: EngineControl,
  persistence: number,
  persistenceMask?: number,
  v6 = false,
): void {
  const key = persistentKey(v6);
  ctl.addService(key, {
    scheduler: "rr",
    persistence,
    ...(persistenceMask !== undefined && { persistenceMask }),
  });
  for (const rs of v6 ? [RS6, RS6_2] : [RS, RS2]) {
    ctl.addRealServer(key, { address: rs, port: 80, weight: 1, method: "nat" });
  }
}

/** A client SYN from `client`:`port` that must reach `rs` (IPv4 NAT: only the destination changes). */
function synTo(client: string, port: number, rs: string, what = ""): Row {
  return {
    what: `SYN from ${client}:${port} to ${rs}${what}`,
    input: tcp(client, VIP, port, 80, "S", 1),
    verdict: Verdict.Rewritten,
    output: tcp(client, rs, port, 80, "S", 1),
  };
}

/** {@linkcode synTo} over IPv6. */
function synTo6(client: string, port: number, rs: string): Row {
  return {
    what: `SYN from [${client}]:${port} to ${rs}`,
    input: tcp6(client, VIP6, port, 80, "S", 1),
    verdict: Verdict.Rewritten,
    output: tcp6(client, rs, port, 80, "S", 1),
  };
}

/** Four connections of one client, then one of another, over two NAT real servers. */
export const PERSISTENT_CLIENT: Scenario = {
  section: "5.1 persistence",
  what: "a client goes back to the same real server",
  configure(ctl) {
    const key = { protocol: "tcp" as const, address: VIP, port: 80 };
    ctl.addService(key, { scheduler: "rr", persistence: 300 });
    for (const rs of [RS, RS2]) {
      ctl.addRealServer(key, { address: rs, port: 80, weight: 1, method: "nat" });
    }
  },
  rows: (): Row[] => [
    ...[1, 2, 3, 4].map((p) => ({
      what: `SYN from port ${40000 + p}`,
      input: tcp(C, VIP, 40000 + p, 80, "S", 1),
      verdict: Verdict.Rewritten,
    })),
    {
      what: "SYN from another client",
      input: tcp("198.51.100.3", VIP, 40000, 80, "S", 1),
      verdict: Verdict.Rewritten,
    },
  ],
};

/**
 * Two IPv6 clients whose words XOR alike each get a template of their own: B goes where rr
 * sends it, not to A's server, and each keeps its own server afterwards.
 */
export const PERSISTENT_V6_NO_COLLISION: Scenario = {
  section: "5.1 persistence",
  what: "two IPv6 clients whose address words XOR alike get independent templates",
  configure: (ctl) => persistentService(ctl, 300, undefined, true),
  rows: (): Row[] => [
    synTo6(C6_XOR_A, 40001, RS6),
    synTo6(C6_XOR_B, 40001, RS6_2),
    synTo6(C6_XOR_A, 40002, RS6),
    synTo6(C6_XOR_B, 40002, RS6_2),
  ],
};

/** `-M 255.255.255.0`: clients of one /24 share a template; another /24 is scheduled anew. */
export const PERSISTENT_MASK_V4: Scenario = {
  section: "5.1 persistence",
  what: "-M 255.255.255.0: one template per /24",
  configure: (ctl) => persistentService(ctl, 300, 24),
  rows: (): Row[] => [
    synTo("198.51.100.2", 40001, RS),
    synTo("198.51.100.77", 40001, RS, " (same /24)"),
    synTo("198.51.101.5", 40001, RS2, " (another /24)"),
    synTo("198.51.100.200", 40001, RS, " (first /24)"),
    synTo("198.51.101.9", 40002, RS2, " (second /24)"),
  ],
};

/** `-M 64` on an IPv6 service: one template per /64. */
export const PERSISTENT_MASK_V6: Scenario = {
  section: "5.1 persistence",
  what: "-M 64: one template per IPv6 /64",
  configure: (ctl) => persistentService(ctl, 300, 64, true),
  rows: (): Row[] => [
    synTo6("2001:db8:a::2", 40001, RS6),
    synTo6("2001:db8:a::ffff:1", 40001, RS6),
    synTo6("2001:db8:a:1::2", 40001, RS6_2),
    synTo6("2001:db8:a:0:8000::1", 40002, RS6),
  ],
};

/**
 * A quiesced server (weight 0) keeps its persistent client, as in IPVS with
 * `expire_quiescent_template` off; new clients go elsewhere. With the tunable on, the template
 * is dropped on its next use and the client is scheduled again.
 */
export const PERSISTENT_QUIESCED: Scenario = {
  section: "5.1 persistence",
  what: "weight 0 keeps persistent clients unless expireQuiescentTemplate",
  configure: (ctl) => persistentService(ctl, 300),
  rows: (): Row[] => [
    synTo(C, 40001, RS),
    {
      ...synTo(C, 40002, RS, " (quiesced, template kept)"),
      before: ({ ctl }) =>
        ctl.editRealServer(persistentKey(), { address: RS, port: 80, weight: 0 }),
    },
    synTo("198.51.100.3", 40001, RS2, " (a new client: not to the quiesced server)"),
    {
      ...synTo(C, 40003, RS2, " (expireQuiescentTemplate on: scheduled again)"),
      before: ({ ctl }) => ctl.setTunables({ expireQuiescentTemplate: true }),
    },
    synTo(C, 40004, RS2, " (its new template)"),
  ],
};

/** A template whose server was deleted is never followed: the client is scheduled again. */
export const PERSISTENT_DELETED: Scenario = {
  section: "5.1 persistence",
  what: "a deleted real server's template is not used",
  configure: (ctl) => persistentService(ctl, 300),
  rows: (): Row[] => [
    synTo(C, 40001, RS),
    {
      ...synTo(C, 40002, RS2, " (RS deleted)"),
      before: ({ ctl }) => ctl.deleteRealServer(persistentKey(), { address: RS, port: 80 }),
    },
  ],
};

/**
 * A 60 s template, renewed by each use, forgotten once its time is up with no session of its
 * open: the next connection is scheduled again (rr: to the other server). Sessions are in
 * SYN_RECV (30 s) and expire before the template does.
 */
export const PERSISTENT_EXPIRY: Scenario = {
  section: "5.1 persistence",
  what: "a template is renewed on use and forgotten after its timeout",
  configure: (ctl) => persistentService(ctl, 60),
  rows: (): Row[] => [
    synTo(C, 40001, RS),
    {
      ...synTo(C, 40002, RS, " (59 s later: still held)"),
      before: ({ clock, engine }) => {
        clock.ms += 59_000;
        engine.expire();
      },
    },
    {
      ...synTo(C, 40003, RS, " (50 s later: renewed by the last use)"),
      before: ({ clock, engine }) => {
        clock.ms += 50_000;
        engine.expire();
      },
    },
    {
      ...synTo(C, 40004, RS2, " (61 s after the last use: forgotten, scheduled again)"),
      before: ({ clock, engine }) => {
        clock.ms += 61_000;
        engine.expire();
      },
    },
  ],
};

/**
 * A 10 s template whose ESTABLISHED session outlasts it lives on (IPVS keeps a template that
 * still controls connections, 60 s at a time); once its sessions are gone it is forgotten.
 */
export const PERSISTENT_LINGER: Scenario = {
  section: "5.1 persistence",
  what: "a template lives on while a session it placed is open",
  configure: (ctl) => persistentService(ctl, 10),
  rows: (): Row[] => [
    synTo(C, 40001, RS),
    {
      what: "RS SYN-ACK",
      input: tcp(RS, C, 80, 40001, "SA", 500, 2),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40001, "SA", 500, 2),
    },
    {
      what: "client ACK: ESTABLISHED",
      input: tcp(C, VIP, 40001, 80, "A", 2, 501),
      verdict: Verdict.Rewritten,
      output: tcp(C, RS, 40001, 80, "A", 2, 501),
    },
    {
      ...synTo(C, 40002, RS, " (11 s later: time up, but its session is open)"),
      before: ({ clock, engine }) => {
        clock.ms += 11_000;
        engine.expire();
      },
    },
    {
      ...synTo(C, 40003, RS2, " (200 s later: sessions and template gone)"),
      before: ({ clock, engine }) => {
        clock.ms += 200_000;
        engine.expire();
      },
    },
  ],
};
