/**
 * The shell's command history, kept in `~/.fullnat_history` (mode 0600) and bounded, so it
 * survives logouts without growing forever. A missing or unwritable home only loses history,
 * never the session.
 *
 * @module
 */

/** Lines kept, in memory and on disk. */
export const HISTORY_LIMIT = 1000;

/** The history file for a home directory, or undefined when there is no home. */
export function historyPath(home: string | undefined): string | undefined {
  return home ? `${home.replace(/\/+$/, "")}/.fullnat_history` : undefined;
}

/** Reads the history, newest first (readline's order); empty when there is none. */
export function loadHistory(path: string | undefined, limit = HISTORY_LIMIT): string[] {
  if (path === undefined) return [];
  try {
    const lines = Deno.readTextFileSync(path).split("\n").filter((l) => l.trim() !== "");
    return lines.slice(-limit).reverse();
  } catch {
    return [];
  }
}

/** Writes the history (given newest first) oldest first, at most `limit` lines. */
export function saveHistory(
  path: string | undefined,
  newestFirst: readonly string[],
  limit = HISTORY_LIMIT,
): void {
  if (path === undefined) return;
  const lines = newestFirst.slice(0, limit).reverse();
  try {
    // Written whole each time: a few kilobytes at most, and never half-appended.
    const tmp = `${path}.tmp`;
    Deno.writeTextFileSync(tmp, lines.join("\n") + (lines.length ? "\n" : ""), { mode: 0o600 });
    Deno.renameSync(tmp, path);
  } catch {
    // No writable home: the session goes on without saved history.
  }
}
