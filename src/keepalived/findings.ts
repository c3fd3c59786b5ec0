/**
 * What an import found wrong or left out, each at its `file:line`: problems (something the
 * configuration asks for that fullnat cannot honour, or cannot read; any one of them stops the
 * import) and notes (sections skipped on purpose, such as VRRP, and harmless things left out;
 * they never stop it). Messages read as `keepalived.conf:42: lb_kind DR: not supported yet`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * const f = new Findings();
 * f.problem({ file: "keepalived.conf", line: 42 }, "lb_kind DR: not supported yet");
 * assert.deepEqual(f.problemLines(), ["keepalived.conf:42: lb_kind DR: not supported yet"]);
 * ```
 *
 * @module
 */

/** A place in the configuration: the file as the user would name it, and a line from 1. */
export interface Where {
  file: string;
  line: number;
}

/** One problem or note. */
export interface Finding {
  at: Where;
  message: string;
}

/** `file:line: message`. */
export function formatFinding(f: Finding): string {
  return `${f.at.file}:${f.at.line}: ${f.message}`;
}

/**
 * Collects problems and notes. Files are numbered in the order they are first seen, so the
 * lists come out in reading order (main file first, then each included file where it was
 * first met), lines ascending, whatever order the conversion found them in.
 */
export class Findings {
  readonly problems: Finding[] = [];
  readonly notes: Finding[] = [];
  readonly #fileOrder = new Map<string, number>();

  /** Records that `file` is read, so its findings sort after those of earlier files. */
  seeFile(file: string): void {
    if (!this.#fileOrder.has(file)) this.#fileOrder.set(file, this.#fileOrder.size);
  }

  /**
   * Something that cannot be honoured: the import stops. The same message at the same place
   * is kept once (a virtual server group repeats its checks for every member).
   */
  problem(at: Where, message: string): void {
    this.#add(this.problems, at, message);
  }

  /** Something skipped or left out on purpose: reported, never fatal. Kept once, as problems. */
  note(at: Where, message: string): void {
    this.#add(this.notes, at, message);
  }

  #add(list: Finding[], at: Where, message: string): void {
    this.seeFile(at.file);
    const same = (f: Finding) =>
      f.message === message && f.at.line === at.line && f.at.file === at.file;
    if (!list.some(same)) list.push({ at, message });
  }

  #sorted(list: Finding[]): Finding[] {
    const order = (f: Finding) => this.#fileOrder.get(f.at.file) ?? 0;
    return [...list].sort((a, b) => order(a) - order(b) || a.at.line - b.at.line);
  }

  /** The problems as `file:line: message` lines, in reading order. */
  problemLines(): string[] {
    return this.#sorted(this.problems).map(formatFinding);
  }

  /** The notes as `file:line: message` lines, in reading order. */
  noteLines(): string[] {
    return this.#sorted(this.notes).map(formatFinding);
  }
}
