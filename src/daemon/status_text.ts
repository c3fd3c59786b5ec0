/**
 * Human-readable rendering of the daemon's status report: one counter per line, grouped,
 * so `fullnat status | grep` works.
 *
 * @module
 */
import type { DrainView } from "./drains.ts";
import type { StatusReport } from "./status.ts";
import { formatEndpoint } from "../vocab/mod.ts";

/**
 * One drain in a line: `#2 tcp 198.51.100.10:80 rs 203.0.113.11:80 draining 12 sessions left,
 * deadline in 41 s` or `... done (deadline) after 300.02 s: 3 ended, 3 reset`.
 */
export function drainLine(d: DrainView, now = Date.now()): string {
  const head =
    `#${d.id} ${d.service.protocol} ${formatEndpoint(d.service.address, d.service.port)}` +
    ` rs ${formatEndpoint(d.server.address, d.server.port)}`;
  if (d.state === "draining") {
    return `${head} draining: ${d.sessions} session(s) left of ${d.sessionsAtStart}, deadline in ` +
      `${Math.max(0, Math.ceil((d.deadlineAt - now) / 1000))} s`;
  }
  const took = (((d.endedAt ?? now) - d.startedAt) / 1000).toFixed(2);
  if (d.state === "failed") return `${head} failed after ${took} s: ${d.error}`;
  return `${head} done (${d.outcome}) after ${took} s` +
    (d.ended ? `: ${d.ended} session(s) ended, ${d.reset} reset at both ends` : "") +
    (d.outcome === "server gone" ? " (deleted by someone else)" : "; removed");
}

/** Renders a status report as aligned `name value` lines under section headings. */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  const section = (title: string, values: Record<string, unknown>) => {
    lines.push(`${title}:`);
    const width = Math.max(...Object.keys(values).map((k) => k.length));
    for (const [k, v] of Object.entries(values)) lines.push(`  ${k.padEnd(width)}  ${String(v)}`);
  };
  section("sessions", {
    active: r.sessions,
    capacity: r.sessionCapacity,
    templates: r.templates ?? 0,
  });
  section("engine", { ...r.engine });
  section("queue", { ...r.queue });
  if (r.kernel) section("kernel queue", { ...r.kernel });
  section("emitted packets", { ...r.emitter });
  if (r.health) section("health checks", { ...r.health });
  if (r.offload) {
    section("offload", {
      ...r.offload.step,
      ...(r.offload.problem !== null && { problem: r.offload.problem }),
    });
  }
  const workers = r.workers ?? [];
  if (workers.length > 1) {
    lines.push("workers:");
    for (const w of workers) {
      lines.push(
        `  worker ${w.index}  queue ${w.queueNum}  ports ${w.localPorts[0]}-${w.localPorts[1]}` +
          `  sessions ${w.sessions}  packets ${w.engine.packets}` +
          `  forwarded ${w.engine.forwarded}  created ${w.engine.sessionsCreated}` +
          `  tcpNoSession ${w.engine.tcpNoSession}  orphansReset ${w.engine.orphansReset}` +
          `  passedThrough ${w.engine.passedThrough}` +
          `  emitted ${w.emitter.sent}  kernelDropped ${
            (w.kernel?.queueDropped ?? 0) + (w.kernel?.userDropped ?? 0)
          }`,
      );
    }
  }
  if (r.config) {
    const p = r.config.pendingConfirm;
    section("configuration", {
      pendingConfirm: p === null
        ? "none"
        : `version ${p.appliedId ?? "?"} rolls back to ${p.previousId ?? "the one before"} ` +
          `in ${p.secondsLeft} s unless 'config confirm' (deadline ${p.deadline})`,
      confirmRollbacks: r.config.confirmRollbacks,
      rollbacks: r.config.rollbacks,
    });
  }
  const drains = r.drains ?? [];
  if (drains.length > 0) {
    lines.push("drains:");
    for (const d of drains) lines.push(`  ${drainLine(d)}`);
  }
  lines.push("diverted:");
  for (const s of r.diversion.services) {
    lines.push(`  service ${s.protocol} ${s.address}:${s.port}`);
  }
  for (const a of r.diversion.localAddresses) lines.push(`  local address ${a}`);
  for (const n of r.diversion.natRealServers) {
    lines.push(`  nat real server ${n.protocol} ${n.address}:${n.port}`);
  }
  for (const d of r.diversion.drRealServers ?? []) {
    lines.push(`  dr real server ${d.address} (mark 0x${d.mark.toString(16)})`);
  }
  return lines.join("\n");
}
