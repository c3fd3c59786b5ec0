/**
 * Where first boot tells people what happened: its standard error (the journal, when run by
 * systemd) and the system console, where whoever watches the VM boot sees it. The console is
 * best effort: a box without one must still be provisioned.
 *
 * @module
 */

/** Writes report lines to the log and, when given, the console. */
export class Reporter {
  readonly #console?: string;
  readonly lines: string[] = [];

  /** `consolePath` is usually `/dev/console`; undefined writes to the log only. */
  constructor(consolePath?: string) {
    this.#console = consolePath;
  }

  /** Reports lines on both; every line carries the `fullnat-provision:` tag. */
  async say(...lines: string[]): Promise<void> {
    const text = lines.map((l) => `fullnat-provision: ${l}\n`).join("");
    this.lines.push(...lines);
    await Deno.stderr.write(new TextEncoder().encode(text));
    if (this.#console === undefined) return;
    try {
      // The console wants CR LF; a file given in tests gets the same bytes, which is harmless.
      await Deno.writeTextFile(this.#console, text.replaceAll("\n", "\r\n"), { append: true });
    } catch {
      // No console (or not writable): the journal still has it.
    }
  }
}
