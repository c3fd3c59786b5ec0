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
