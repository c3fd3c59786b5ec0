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
  const layout = new TableLayout(columns, rows);
  return `${layout.header()}\n${layout.lines(rows)}`;
}

/**
 * A table laid out from the rows at hand, for a table whose later rows arrive later (a
 * streamed listing): the columns take their widths from the first rows, and every later row is
 * printed with those widths; a longer cell just widens its own line.
 */
export class TableLayout {
  readonly #columns: readonly Column[];
  readonly #widths: number[];

  constructor(columns: readonly Column[], first: readonly (readonly (string | number)[])[]) {
    this.#columns = columns;
    this.#widths = columns.map((c, i) =>
      first.reduce((w, r) => Math.max(w, String(r[i] ?? "").length), c.title.length)
    );
  }

  /** The heading line. */
  header(): string {
    return this.#line(this.#columns.map((c) => c.title));
  }

  /** The lines of `rows`, newline-separated. */
  lines(rows: readonly (readonly (string | number)[])[]): string {
    return rows.map((r) => this.#line(r.map(String))).join("\n");
  }

  #line(values: readonly string[]): string {
    const last = this.#columns.length - 1;
    return this.#columns.map((c, i) => {
      const v = values[i] ?? "";
      if (c.numeric) return v.padStart(this.#widths[i]);
      return i === last ? v : v.padEnd(this.#widths[i]);
    }).join("  ").trimEnd();
  }
}

/** Renders `name  value` pairs with the names padded to one width. */
export function renderPairs(pairs: readonly (readonly [string, string | number])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join("\n");
}
