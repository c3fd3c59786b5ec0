/**
 * Human renderings of what the daemon lists: services, real servers, local addresses,
 * connections, counters and timeouts. `--json` output bypasses these and prints the daemon's
 * own objects.
 *
 * @module
 */
import { formatEndpoint, fullPersistenceMask, isIpv6 } from "../vocab/mod.ts";
import {
  type ConnectionView,
  DEFAULT_QUORUM,
  type ServiceView,
  type Stats,
  type Timeouts,
} from "../fullnat/types.ts";
import { type Column, renderPairs, renderTable } from "./table.ts";
import { formatServiceKey } from "./values.ts";
import { listedState } from "./health_views.ts";

const onOff = (v: boolean) => (v ? "on" : "off");

/** One line per service. */
export function servicesTable(services: readonly ServiceView[]): string {
  return renderTable(
    [
      { title: "PROTO" },
      { title: "VIRTUAL" },
      { title: "SCHED" },
      { title: "PERSIST", numeric: true },
      { title: "TOA" },
      { title: "STRIP-TS" },
      { title: "CLAMP-MSS" },
      { title: "RS", numeric: true },
      { title: "LADDRS", numeric: true },
      { title: "CONNS", numeric: true },
    ],
    services.map((s) => [
      s.protocol,
      formatEndpoint(s.address, s.port),
      s.schedulerFlags?.length ? `${s.scheduler} (${s.schedulerFlags.join(",")})` : s.scheduler,
      s.persistence,
      onOff(s.toa),
      onOff(s.stripTimestamps),
      onOff(s.clampMss),
      s.realServers.length,
      s.localAddresses.length,
      s.stats.conns,
    ]),
    "no services (add one with: service add tcp VIP:PORT)",
  );
}

/** Everything about one service. */
export function serviceDetail(s: ServiceView): string {
  const head = renderPairs([
    ["service", formatServiceKey(s)],
    ["scheduler", s.scheduler],
    ...(s.schedulerFlags?.length ? [["scheduler flags", s.schedulerFlags.join(",")] as const] : []),
    ...(s.scheduler === "mh" ? [["mh table size", s.mhTableSize ?? "?"] as const] : []),
    ["persistence", s.persistence === 0 ? "off" : `${s.persistence}s`],
    ...(s.persistenceMask !== undefined &&
        s.persistenceMask !== fullPersistenceMask(isIpv6(s.address))
      ? [["persistence mask", `/${s.persistenceMask}`] as const]
      : []),
    ["toa", onOff(s.toa)],
    ["strip timestamps", onOff(s.stripTimestamps)],
    ["clamp mss", onOff(s.clampMss)],
    ...(s.onePacket ? [["one-packet", "on"] as const] : []),
    ...(s.synProxy ? [["syn proxy", "on"] as const] : []),
    ...(Object.keys(s.timeouts ?? {}).length > 0
      ? [
        [
          "own timeouts",
          TIMEOUT_NAMES.filter(([f]) => s.timeouts?.[f] !== undefined)
            .map(([f, name]) => `${name} ${s.timeouts?.[f]}s`).join(", "),
        ] as const,
      ]
      : []),
    ...(s.quorum !== undefined && s.quorum !== DEFAULT_QUORUM
      ? [["quorum", s.quorum] as const]
      : []),
    ...(s.hysteresis ? [["hysteresis", s.hysteresis] as const] : []),
    ...(s.quorumUp === false ? [["quorum state", "LOST"] as const] : []),
    ...(s.sorryServer
      ? [
        [
          "sorry server",
          `${formatEndpoint(s.sorryServer.address, s.sorryServer.port)} ${s.sorryServer.method}` +
          (s.sorryServer.active ? " (serving)" : " (standing by)"),
        ] as const,
      ]
      : []),
    ...((s.allow ?? []).length > 0 ? [["allow", (s.allow ?? []).join(", ")] as const] : []),
    ...((s.deny ?? []).length > 0 ? [["deny", (s.deny ?? []).join(", ")] as const] : []),
    ...(s.sourceRate ? [["source rate", `${s.sourceRate}/s per source`] as const] : []),
    ...(s.sourceSessions ? [["source sessions", `${s.sourceSessions} per source`] as const] : []),
    ["connections", s.stats.conns],
    ...(s.refused !== undefined &&
        (s.refused.aclDenied + s.refused.sourceRate + s.refused.sourceSessions > 0 ||
          (s.allow ?? []).length + (s.deny ?? []).length > 0 || s.sourceRate ||
          s.sourceSessions)
      ? [
        [
          "refused",
          `${s.refused.aclDenied} by allow/deny, ${s.refused.sourceRate} over source rate, ` +
          `${s.refused.sourceSessions} over source sessions`,
        ] as const,
      ]
      : []),
  ]);
  return [
    head,
    "",
    "real servers:",
    indent(realServersTable([s], false)),
    "",
    "local addresses:",
    indent(localAddressesTable([s], false)),
  ].join("\n");
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}

/**
 * True when any of these servers has something to say about health (checks, a state other
 * than up, a scheduling weight other than the configured one): the real-server table then
 * has its health columns.
 */
function healthMatters(services: readonly ServiceView[]): boolean {
  return services.some((s) =>
    s.realServers.some((r) =>
      (r.checks ?? []).length > 0 || r.up === false || r.listed === false ||
      (r.currentWeight ?? r.weight) !== r.weight
    )
  );
}

/**
 * Real servers of the given services; `withService` adds the service column. When health
 * matters (see {@linkcode healthMatters}) it also shows the weight new connections are
 * scheduled by, the health state and the number of checks; the WEIGHT column stays the
 * configured weight. A server with connection thresholds adds the THRESHOLDS column
 * (`upper/lower`, `overloaded` while over).
 */
/**
 * A real server's METHOD cell: the method, and a tunnel server's encapsulation when it is not
 * plain ipip (`tunnel gue:6080+csum`).
 */
function methodText(r: ServiceView["realServers"][number]): string {
  if (r.method !== "tunnel" || (r.tunnelType ?? "ipip") === "ipip") return r.method;
  return `tunnel ${r.tunnelType}${r.tunnelPort !== undefined ? `:${r.tunnelPort}` : ""}` +
    (r.tunnelChecksum ? "+csum" : "");
}

export function realServersTable(services: readonly ServiceView[], withService = true): string {
  const health = healthMatters(services);
  const limits = services.some((s) => s.realServers.some((r) => (r.upperThreshold ?? 0) > 0));
  const thresholds = (r: ServiceView["realServers"][number]) =>
    (r.upperThreshold ?? 0) === 0
      ? "-"
      : `${r.upperThreshold}/${r.lowerThreshold ?? 0}${r.overloaded ? " overloaded" : ""}`;
  const rows = services.flatMap((s) =>
    s.realServers.map((r) => [
      ...(withService ? [formatServiceKey(s)] : []),
      formatEndpoint(r.address, r.port),
      methodText(r),
      r.weight,
      ...(limits ? [thresholds(r)] : []),
      ...(health ? [r.currentWeight ?? r.weight, listedState(r), (r.checks ?? []).length] : []),
      r.activeConns,
      r.inactiveConns,
      r.persistConns ?? 0,
    ])
  );
  return renderTable(
    [
      ...(withService ? [{ title: "SERVICE" }] : []),
      { title: "REAL SERVER" },
      { title: "METHOD" },
      { title: "WEIGHT", numeric: true },
      ...(limits ? [{ title: "THRESHOLDS" }] : []),
      ...(health
        ? [{ title: "CURRENT", numeric: true }, { title: "HEALTH" }, {
          title: "CHECKS",
          numeric: true,
        }]
        : []),
      { title: "ACTIVE", numeric: true },
      { title: "INACTIVE", numeric: true },
      { title: "PERSIST", numeric: true },
    ],
    rows,
    "no real servers (add one with: rs add PROTO VIP:PORT RS:PORT)",
  );
}

/** Local addresses of the given services. */
export function localAddressesTable(services: readonly ServiceView[], withService = true): string {
  const rows = services.flatMap((s) =>
    s.localAddresses.map((l) => [
      ...(withService ? [formatServiceKey(s)] : []),
      l.address,
      l.conns,
      l.portConflicts,
    ])
  );
  return renderTable(
    [
      ...(withService ? [{ title: "SERVICE" }] : []),
      { title: "LOCAL ADDRESS" },
      { title: "CONNS", numeric: true },
      { title: "PORT CONFLICTS", numeric: true },
    ],
    rows,
    "no local addresses (add one with: laddr add PROTO VIP:PORT IP)",
  );
}

/** The columns of the session table. */
export const CONNECTION_COLUMNS: readonly Column[] = [
  { title: "PROTO" },
  { title: "STATE" },
  { title: "EXPIRES", numeric: true },
  { title: "CLIENT" },
  { title: "VIRTUAL" },
  { title: "LOCAL" },
  { title: "REAL SERVER" },
  { title: "METHOD" },
];

/** What the session table shows when it has no rows. */
export const NO_CONNECTIONS = "no connections";

/** The cells of one connection's row in the session table. */
export function connectionCells(c: ConnectionView): string[] {
  return [
    c.protocol,
    c.offloaded ? `${c.state} (kernel)` : c.state,
    `${Math.ceil(c.expiresInMs / 1000)}s`,
    formatEndpoint(c.client.address, c.client.port),
    formatEndpoint(c.virtual.address, c.virtual.port),
    formatEndpoint(c.local.address, c.local.port),
    formatEndpoint(c.real.address, c.real.port),
    c.method,
  ];
}

const statCells = (s: Stats) => [s.conns, s.inPackets, s.outPackets, s.inBytes, s.outBytes];

/** Traffic counters per service and, indented under it, per real server. */
export function statsTable(services: readonly ServiceView[]): string {
  const rows = services.flatMap((s) => [
    [formatServiceKey(s), ...statCells(s.stats)],
    ...s.realServers.map((
      r,
    ) => [`  -> ${formatEndpoint(r.address, r.port)}`, ...statCells(r.stats)]),
  ]);
  return renderTable(
    [
      { title: "SERVICE / REAL SERVER" },
      { title: "CONNS", numeric: true },
      { title: "IN PKTS", numeric: true },
      { title: "OUT PKTS", numeric: true },
      { title: "IN BYTES", numeric: true },
      { title: "OUT BYTES", numeric: true },
    ],
    rows,
    "no services",
  );
}

/** Timeout names as the `timeout set` options spell them, in the contract's order. */
export const TIMEOUT_NAMES: readonly (readonly [keyof Timeouts, string])[] = [
  ["tcpEstablished", "tcp-established"],
  ["tcpSynSent", "tcp-syn-sent"],
  ["tcpSynRecv", "tcp-syn-recv"],
  ["tcpSynAck", "tcp-syn-ack"],
  ["tcpFinWait", "tcp-fin-wait"],
  ["tcpTimeWait", "tcp-time-wait"],
  ["tcpClose", "tcp-close"],
  ["tcpCloseWait", "tcp-close-wait"],
  ["tcpLastAck", "tcp-last-ack"],
  ["udp", "udp"],
];

/** Every timeout with its value in seconds. */
export function timeoutsTable(t: Timeouts): string {
  return renderTable(
    [{ title: "TIMEOUT" }, { title: "SECONDS", numeric: true }],
    TIMEOUT_NAMES.map(([field, name]) => [name, t[field]]),
  );
}
