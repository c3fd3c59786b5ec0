/**
 * Human-readable rendering of the daemon's status report: one counter per line, grouped,
 * so `fullnat status | grep` works.
 *
 * @module
 */
import type { StatusReport } from "./status.ts";

/** Renders a status report as aligned `name value` lines under section headings. */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  const section = (title: string, values: Record<string, unknown>) => {
    lines.push(`${title}:`);
    const width = Math.max(...Object.keys(values).map((k) => k.length));
    for (const [k, v] of Object.entries(values)) lines.push(`  ${k.padEnd(width)}  ${String(v)}`);
  };
  section("sessions", { active: r.sessions, capacity: r.sessionCapacity });
  section("engine", { ...r.engine });
  section("queue", { ...r.queue });
  if (r.kernel) section("kernel queue", { ...r.kernel });
  section("emitted packets", { ...r.emitter });
  if (r.health) section("health checks", { ...r.health });
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
  lines.push("diverted:");
  for (const s of r.diversion.services) {
    lines.push(`  service ${s.protocol} ${s.address}:${s.port}`);
  }
  for (const a of r.diversion.localAddresses) lines.push(`  local address ${a}`);
  for (const n of r.diversion.natRealServers) {
    lines.push(`  nat real server ${n.protocol} ${n.address}:${n.port}`);
  }
  return lines.join("\n");
}
