/**
 * The benchmark's chart as a self-contained SVG: one panel per figure (bulk Gbit/s both ways,
 * new connections/s, UDP kpkt/s, queued burst), one horizontal bar per peer, the median written at the bar's
 * end and the pass-through's value marked by a dashed line. No fonts or scripts are
 * referenced, so it renders the same on GitHub and in a browser.
 *
 * @module
 */

import { type Row, WORKLOAD_OF } from "./report.ts";
import type { Figure } from "./results.ts";

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PANELS: Array<{ figure: Figure; title: string; digits: number }> = [
  { figure: "gbps", title: "bulk TCP, Gbit/s", digits: 2 },
  { figure: "gbpsDown", title: "download (RS to client), Gbit/s", digits: 2 },
  { figure: "cps", title: "new connections/s", digits: 0 },
  { figure: "kpps", title: "UDP, kpkt/s at the RS", digits: 1 },
  { figure: "burstKpps", title: "UDP burst drained, kpkt/s", digits: 1 },
];

/**
 * Bar colour by peer id: kernel paths grey, HAProxy orange, queue-based blue shades, fullnat
 * with the kernel fast path green.
 */
function colour(id: string): string {
  if (id === "direct" || id === "conntrack") return "#8c8c8c";
  if (id === "haproxy") return "#e8912d";
  if (id === "passthrough") return "#7fb3e0";
  if (id === "passthrough-payload") return "#a9cbeb";
  if (id === "nat") return "#3a7dc9";
  if (id.startsWith("fullnat-offload")) return "#2e8b57";
  return "#1b4f91";
}

/** Renders the chart; `subtitle` says what was run (runs, seconds, machine). */
export function renderChart(rows: readonly Row[], subtitle: string): string {
  const labelW = 230;
  const panelW = 240;
  const gap = 20;
  const barH = 18;
  const rowH = 26;
  const top = 64;
  const width = labelW + PANELS.length * (panelW + gap) + 10;
  const height = top + rows.length * rowH + 30;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">fullnat and its peers, medians</text>`,
    `<text x="10" y="38" fill="#555555">${escapeXml(subtitle)}</text>`,
  );
  rows.forEach((r, i) => {
    const y = top + i * rowH + barH / 2 + 4;
    out.push(`<text x="${labelW - 8}" y="${y}" text-anchor="end">${escapeXml(r.label)}</text>`);
  });
  PANELS.forEach((p, pi) => {
    const x0 = labelW + pi * (panelW + gap);
    const values = rows.map((r) => r.summary.median[p.figure]);
    const max = Math.max(0, ...values.filter((v): v is number => v !== undefined));
    const scale = max > 0 ? (panelW - 60) / max : 0;
    out.push(
      `<text x="${x0}" y="${top - 10}" font-weight="bold">${escapeXml(p.title)}</text>`,
      `<line x1="${x0}" y1="${top - 4}" x2="${x0}" y2="${top + rows.length * rowH}" ` +
        `stroke="#333333"/>`,
    );
    rows.forEach((r, i) => {
      const v = r.summary.median[p.figure];
      const y = top + i * rowH;
      if (v === undefined) {
        const why = r.summary.unsupported.includes(WORKLOAD_OF[p.figure]) ? "n/a" : "failed";
        out.push(
          `<text x="${x0 + 6}" y="${y + barH / 2 + 4}" fill="#999999">${why}</text>`,
        );
        return;
      }
      const w = Math.max(1, v * scale);
      out.push(
        `<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${barH}" ` +
          `fill="${colour(r.id)}"/>`,
        `<text x="${(x0 + w + 4).toFixed(1)}" y="${y + barH / 2 + 4}">${
          v.toFixed(p.digits)
        }</text>`,
      );
    });
    const pass = rows.find((r) => r.id === "passthrough")?.summary.median[p.figure];
    if (pass !== undefined && scale > 0) {
      const x = (x0 + pass * scale).toFixed(1);
      out.push(
        `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rows.length * rowH}" ` +
          `stroke="#7fb3e0" stroke-dasharray="4 3"/>`,
      );
    }
  });
  out.push(
    `<text x="10" y="${height - 10}" fill="#555555">dashed line: NFQUEUE pass-through ` +
      `(the ceiling of this design); n/a: HAProxy does not proxy UDP, and only a queue ` +
      `holds a burst</text>`,
    `</svg>`,
  );
  return out.join("\n") + "\n";
}
