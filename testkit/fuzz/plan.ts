/**
 * The fuzzer's engine: one engine carrying a service of every kind the engine has, in both
 * families (FULLNAT TCP and UDP, a persistent FULLNAT service, a one-packet UDP service, NAT,
 * DR and TUNNEL), so every packet the generator makes can reach any forwarding mode's path.
 *
 * @module
 */
import { Clock, SECRET } from "../engine_fixture.ts";
import { parseIpv4, parseIpv6 } from "../packet_builder.ts";
import { EngineControl } from "../../src/fullnat/control.ts";
import { Engine, type EngineOptions } from "../../src/fullnat/engine.ts";
import type { ForwardMethod, Protocol } from "../../src/fullnat/types.ts";
import type { Prng } from "./prng.ts";

/** One virtual service of the plan, with the addresses the generator needs as bytes. */
export interface PlanService {
  v6: boolean;
  protocol: Protocol;
  method: ForwardMethod;
  vip: Uint8Array;
  vport: number;
}

/** Clients of each family the generator sends from. */
export const CLIENTS4 = ["198.51.100.2", "198.51.100.3", "198.51.100.4", "192.0.2.77"].map(
  parseIpv4,
);
export const CLIENTS6 = ["2001:db8:a::2", "2001:db8:a::3", "2001:db8:c::9"].map(parseIpv6);
/** Routers that send ICMP errors. */
export const ROUTER4 = parseIpv4("203.0.113.99");
export const ROUTER6 = parseIpv6("2001:db8:b::99");

const TUNNEL_SOURCE4 = "203.0.113.250";
const TUNNEL_SOURCE6 = "2001:db8:b::250";

interface ServiceRow {
  protocol: Protocol;
  vip: string;
  port: number;
  method: ForwardMethod;
  servers: string[];
  rsPort: number;
  locals?: string[];
  persistence?: number;
  onePacket?: boolean;
  synProxy?: boolean;
}

/** The services: the first of each mode per family is what most traffic goes to. */
const ROWS: ServiceRow[] = [
  {
    protocol: "tcp",
    vip: "198.51.100.10",
    port: 80,
    method: "fullnat",
    servers: ["203.0.113.11", "203.0.113.12"],
    rsPort: 8080,
    locals: ["203.0.113.201", "203.0.113.202"],
  },
  {
    protocol: "udp",
    vip: "198.51.100.10",
    port: 53,
    method: "fullnat",
    servers: ["203.0.113.11"],
    rsPort: 5353,
    locals: ["203.0.113.201"],
  },
  {
    protocol: "tcp",
    vip: "198.51.100.10",
    port: 443,
    method: "fullnat",
    servers: ["203.0.113.11", "203.0.113.12"],
    rsPort: 443,
    locals: ["203.0.113.203"],
    persistence: 300,
  },
  {
    protocol: "udp",
    vip: "198.51.100.14",
    port: 53,
    method: "fullnat",
    servers: ["203.0.113.11"],
    rsPort: 53,
    locals: ["203.0.113.204"],
    onePacket: true,
  },
  {
    protocol: "tcp",
    vip: "198.51.100.15",
    port: 80,
    method: "fullnat",
    servers: ["203.0.113.11", "203.0.113.12"],
    rsPort: 8080,
    locals: ["203.0.113.205"],
    synProxy: true,
  },
  {
    protocol: "tcp",
    vip: "198.51.100.11",
    port: 80,
    method: "nat",
    servers: ["203.0.113.21"],
    rsPort: 80,
  },
  {
    protocol: "udp",
    vip: "198.51.100.11",
    port: 53,
    method: "nat",
    servers: ["203.0.113.21"],
    rsPort: 53,
  },
  {
    protocol: "tcp",
    vip: "198.51.100.12",
    port: 80,
    method: "dr",
    servers: ["203.0.113.31"],
    rsPort: 80,
  },
  {
    protocol: "tcp",
    vip: "198.51.100.13",
    port: 80,
    method: "tunnel",
    servers: ["203.0.113.41"],
    rsPort: 80,
  },
  {
    protocol: "udp",
    vip: "198.51.100.13",
    port: 53,
    method: "tunnel",
    servers: ["203.0.113.41"],
    rsPort: 53,
  },
  {
    protocol: "tcp",
    vip: "2001:db8:a::10",
    port: 80,
    method: "fullnat",
    servers: ["2001:db8:b::11"],
    rsPort: 8080,
    locals: ["2001:db8:b::201"],
  },
  {
    protocol: "udp",
    vip: "2001:db8:a::10",
    port: 53,
    method: "fullnat",
    servers: ["2001:db8:b::11"],
    rsPort: 5353,
    locals: ["2001:db8:b::201"],
  },
  {
    protocol: "tcp",
    vip: "2001:db8:a::11",
    port: 80,
    method: "nat",
    servers: ["2001:db8:b::21"],
    rsPort: 80,
  },
  {
    protocol: "tcp",
    vip: "2001:db8:a::12",
    port: 80,
    method: "dr",
    servers: ["2001:db8:b::31"],
    rsPort: 80,
  },
  {
    protocol: "tcp",
    vip: "2001:db8:a::13",
    port: 80,
    method: "tunnel",
    servers: ["2001:db8:b::41"],
    rsPort: 80,
  },
  {
    protocol: "udp",
    vip: "2001:db8:a::13",
    port: 53,
    method: "tunnel",
    servers: ["2001:db8:b::41"],
    rsPort: 53,
  },
];

/** The plan's services, addresses as bytes. */
export const SERVICES: readonly PlanService[] = ROWS.map((r) => {
  const v6 = r.vip.includes(":");
  return {
    v6,
    protocol: r.protocol,
    method: r.method,
    vip: v6 ? parseIpv6(r.vip) : parseIpv4(r.vip),
    vport: r.port,
  };
});

/** Every address the plan's engine owns or forwards to, as bytes (for random destinations). */
export const PLAN_ADDRESSES4 = [
  ...new Set(
    ROWS.filter((r) => !r.vip.includes(":")).flatMap((
      r,
    ) => [r.vip, ...r.servers, ...(r.locals ?? [])]),
  ),
].map(parseIpv4);
export const PLAN_ADDRESSES6 = [
  ...new Set(
    ROWS.filter((r) => r.vip.includes(":")).flatMap((
      r,
    ) => [r.vip, ...r.servers, ...(r.locals ?? [])]),
  ),
].map(parseIpv6);

/** The fuzzer's engine, its hand-moved clock and its control. */
export interface FuzzEngine {
  clock: Clock;
  engine: Engine;
  ctl: EngineControl;
}

/**
 * A fresh engine carrying the plan: fixed ISN secret, `capacity` sessions (small, so the
 * table fills and refusals happen too), tunnel sources of both families.
 */
export function planEngine(capacity = 2048, extra: Partial<EngineOptions> = {}): FuzzEngine {
  const clock = new Clock();
  const engine = new Engine({
    clock: clock.fn,
    isnSecret: SECRET,
    capacity,
    localPortRange: [20000, 20150],
    tunnelSources: [TUNNEL_SOURCE4, TUNNEL_SOURCE6],
    ...extra,
  });
  const ctl = new EngineControl(engine);
  for (const r of ROWS) {
    const key = { protocol: r.protocol, address: r.vip, port: r.port };
    ctl.addService(key, {
      scheduler: "rr",
      persistence: r.persistence ?? 0,
      ...(r.onePacket ? { onePacket: true } : {}),
      ...(r.synProxy ? { synProxy: true } : {}),
    });
    for (const s of r.servers) {
      ctl.addRealServer(key, { address: s, port: r.rsPort, weight: 1, method: r.method });
    }
    for (const l of r.locals ?? []) ctl.addLocalAddress(key, l);
  }
  return { clock, engine, ctl };
}

/**
 * One configuration change, as an operator makes them while traffic flows: a real server's
 * weight to 0 (quiesced: refusals when it is the only one) or back to 1, a real server
 * deleted (with live sessions) or added back, a local address
 * taken away from a FULLNAT service (its sessions keep it until they end) or given back, or
 * one of the engine's policies (malformed, reject, no-session) or `expireNodestConn` flipped.
 */
export function churn(fx: FuzzEngine, rng: Prng): void {
  const e = fx.engine;
  if (rng.chance(0.25)) {
    // A policy or switch flipped: every verdict path of each gets its turn.
    switch (rng.int(4)) {
      case 0:
        e.malformedPolicy = e.malformedPolicy === "drop" ? "accept" : "drop";
        return;
      case 1:
        e.rejectPolicy = e.rejectPolicy === "drop" ? "reset" : "drop";
        return;
      case 2:
        e.noSessionPolicy = e.noSessionPolicy === "drop" ? "reset" : "drop";
        return;
      default:
        e.tunables = { ...e.tunables, expireNodestConn: !e.expireNodestConn };
        return;
    }
  }
  const r = rng.pick(ROWS);
  const key = { protocol: r.protocol, address: r.vip, port: r.port };
  if (r.locals !== undefined && rng.chance(0.4)) {
    const la = rng.pick(r.locals);
    const has = fx.engine.registry.locals.some((l) =>
      l !== undefined && !l.removed && l.address === la && l.service.key.port === r.port &&
      l.service.key.address === r.vip && l.service.key.protocol === r.protocol
    );
    if (has) fx.ctl.deleteLocalAddress(key, la);
    else fx.ctl.addLocalAddress(key, la);
    return;
  }
  const rs = rng.pick(r.servers);
  const endpoint = { address: rs, port: r.rsPort };
  const listed =
    fx.ctl.listServices().find((s) =>
      s.protocol === r.protocol && s.address === r.vip && s.port === r.port
    )?.realServers.some((s) => s.address === rs && s.port === r.rsPort) ?? false;
  if (!listed) {
    fx.ctl.addRealServer(key, { ...endpoint, weight: 1, method: r.method });
  } else if (rng.chance(0.2)) {
    // Deleted while its sessions live: they go on (or end at their next packet with
    // expireNodestConn), templates pointing at it are invalidated, its slot is freed last.
    fx.ctl.deleteRealServer(key, endpoint);
  } else {
    fx.ctl.editRealServer(key, { ...endpoint, weight: rng.chance(0.5) ? 0 : 1 });
  }
}
