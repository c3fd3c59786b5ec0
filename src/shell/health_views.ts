/**
 * Human renderings of health checks: the daemon's `healthStatus` report as one row per real
 * server (state, since when, why, counts) with a line per service whose quorum is lost or whose
 * sorry server serves, and the configured checks of real servers. `--json` prints the daemon's
 * own objects instead.
 *
 * @module
 */
import type { HealthReport, ServerHealth } from "../daemon/health_monitor.ts";
import type { RealServerView, ServiceView } from "../fullnat/types.ts";
import { describeCheck } from "../persist/plan.ts";
import { formatEndpoint } from "../vocab/mod.ts";
import { renderTable } from "./table.ts";
import { formatServiceKey } from "./values.ts";

/** `12s ago`, `3m ago`, `2h ago`, `4d ago`. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** What happens to a server in its state: `up`, `down (removed)`, `down (weight 0)`. */
function stateText(r: ServerHealth): string {
  if (r.state === "up") return "up";
  return r.inhibitOnFailure ? "down (weight 0)" : "down (removed)";
}

/** The weight column: the configured one, or the dynamic one a misc check set. */
function weightText(r: ServerHealth): string {
  return r.dynamicWeight === undefined ? String(r.weight) : `${r.dynamicWeight} (dynamic)`;
}

/** The report as a table, then a line per service whose quorum matters. */
export function healthTable(report: HealthReport, now: number): string {
  const rows = report.services.flatMap((s) =>
    s.realServers.map((r) => [
      formatServiceKey(s),
      formatEndpoint(r.address, r.port),
      stateText(r),
      ago(now - r.since),
      weightText(r),
      r.checks.length,
      r.rounds,
      r.failures,
      r.transitions,
      r.reason,
    ])
  );
  const table = renderTable(
    [
      { title: "SERVICE" },
      { title: "REAL SERVER" },
      { title: "STATE" },
      { title: "SINCE" },
      { title: "WEIGHT" },
      { title: "CHECKS", numeric: true },
      { title: "ROUNDS", numeric: true },
      { title: "FAILED", numeric: true },
      { title: "CHANGES", numeric: true },
      { title: "REASON" },
    ],
    rows,
    "no real servers (add one with: rs add PROTO VIP:PORT RS:PORT)",
  );
  const notes = report.services.flatMap((s) => {
    const sorry = s.sorryServer;
    if (s.quorumUp && sorry === undefined) return [];
    const quorum = s.quorumUp
      ? `quorum held (live weight ${s.liveWeight}, quorum ${s.quorum}, hysteresis ${s.hysteresis})`
      : `QUORUM LOST (live weight ${s.liveWeight}, quorum ${s.quorum}, hysteresis ${s.hysteresis})`;
    const sorryText = sorry === undefined
      ? ""
      : `; sorry server ${formatEndpoint(sorry.address, sorry.port)} ${
        sorry.active ? "serving" : "standing by"
      }`;
    return [`${formatServiceKey(s)}: ${quorum}${sorryText}`];
  });
  const c = report.counters;
  const totals = `checks ${c.checks} running, ${c.checksRun} rounds, ${c.checksFailed} failed; ` +
    `servers up ${c.transitionsUp}x, down ${c.transitionsDown}x; ` +
    `quorum lost ${c.quorumLost}x, regained ${c.quorumRegained}x`;
  return [table, ...(notes.length > 0 ? ["", ...notes] : []), "", totals].join("\n");
}

/** The configured checks of real servers, numbered per server as `rs check delete` takes them. */
export function checksTable(
  services: readonly ServiceView[],
  only?: { address: string; port: number },
): string {
  const rows = services.flatMap((s) =>
    s.realServers.filter((r) => only === undefined || sameEndpoint(r, only)).flatMap((r) =>
      (r.checks ?? []).map((c, i) => [
        formatServiceKey(s),
        formatEndpoint(r.address, r.port),
        i + 1,
        describeCheck(c),
      ])
    )
  );
  return renderTable(
    [{ title: "SERVICE" }, { title: "REAL SERVER" }, { title: "#", numeric: true }, {
      title: "CHECK",
    }],
    rows,
    "no health checks (add one with: rs check add PROTO VIP:PORT RS:PORT --type tcp)",
  );
}

const sameEndpoint = (a: { address: string; port: number }, b: { address: string; port: number }) =>
  a.address === b.address && a.port === b.port;

/**
 * A server's health as a listing shows it: `up`, `down`, `down (weight 0)` when inhibited,
 * `standby` while the sorry server serves in its place; `-` from a daemon without checks.
 */
export function listedState(r: RealServerView): string {
  if (r.up === undefined) return "-";
  if (!r.up) return r.listed ? "down (weight 0)" : "down";
  return r.listed === false ? "standby" : "up";
}
