/**
 * Problems found in a provisioning file, each tied to the place it was found (a path into the
 * document such as `interfaces.eth0.addresses[1]`), so an admin can fix every one in one pass.
 *
 * @module
 */

/** A step into the document: a mapping key or a list index. */
export type PathStep = string | number;

/** One thing wrong with a provisioning file. */
export interface Problem {
  /** Where, from the document root; empty for the document as a whole. */
  path: PathStep[];
  /** What is wrong and how to fix it. */
  message: string;
  /** 1-based line in the source file, when the source format has positions (YAML, JSON). */
  line?: number;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Writes a path the way people read it: `interfaces.eth0.addresses[1]`; keys that are not plain
 * words are quoted (`interfaces["eth0.100"]`). The empty path is `(document)`.
 *
 * @example
 * ```ts
 * import { formatPath } from "./problems.ts";
 * formatPath(["interfaces", "eth0", "addresses", 1]); // "interfaces.eth0.addresses[1]"
 * ```
 */
export function formatPath(path: readonly PathStep[]): string {
  if (path.length === 0) return "(document)";
  let out = "";
  for (const step of path) {
    if (typeof step === "number") out += `[${step}]`;
    else if (PLAIN_KEY.test(step)) out += out === "" ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

/** One line per problem: `path (line N): message`. */
export function formatProblem(p: Problem): string {
  const where = p.line === undefined
    ? formatPath(p.path)
    : `${formatPath(p.path)} (line ${p.line})`;
  return `${where}: ${p.message}`;
}

/** Collects problems under a base path, so nested validators need not know where they sit. */
export class Problems {
  readonly list: Problem[];
  readonly #base: PathStep[];

  constructor(base: PathStep[] = [], list: Problem[] = []) {
    this.#base = base;
    this.list = list;
  }

  /** Records a problem at `base + path`. */
  add(path: PathStep[], message: string): void {
    this.list.push({ path: [...this.#base, ...path], message });
  }

  /** A collector that shares this list and records under `base + path`. */
  at(...path: PathStep[]): Problems {
    return new Problems([...this.#base, ...path], this.list);
  }

  /** True when nothing was recorded (here or in any collector made by {@linkcode at}). */
  get ok(): boolean {
    return this.list.length === 0;
  }
}
