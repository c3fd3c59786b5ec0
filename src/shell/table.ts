/**
 * Plain-text tables for people: a header row and columns padded to their widest cell, two
 * spaces apart, numbers right-aligned. No colours or box drawing, so output stays greppable and
 * pastes cleanly into tickets.
 *
 * @module
 */

/** One column: its heading and whether its cells are numbers (right-aligned). */
export interface Column {
  title: string;
  numeric?: boolean;
}

/** Renders rows under headings; an empty table renders as just the `empty` text. */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly (string | number)[])[],
  empty = "(none)",
): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((r) => r.map(String));
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...cells.map((r) => (r[i] ?? "").length))
  );
  const line = (values: readonly string[]) =>
    columns.map((c, i) => {
      const v = values[i] ?? "";
      const last = i === columns.length - 1;
      if (c.numeric) return v.padStart(widths[i]);
      return last ? v : v.padEnd(widths[i]);
    }).join("  ").trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join("\n");
}

/** Renders `name  value` pairs with the names padded to one width. */
export function renderPairs(pairs: readonly (readonly [string, string | number])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join("\n");
}
