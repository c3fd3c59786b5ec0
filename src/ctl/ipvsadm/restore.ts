/**
 * `ipvsadm -R`: rules read from standard input, one command line per line, as ipvsadm's
 * restore reads them (words split at blanks, an optional leading `ipvsadm`), typically what
 * `ipvsadm -S` printed. Unlike ipvsadm, which runs each line as it reads it and stops at the
 * first bad one with the lines before it applied, the whole input is checked first: every line
 * is parsed by the ipvsadm parser and carried out, in order, on a scratch engine holding the
 * running configuration. Any bad line (refused by the parser, or by the engine as the daemon
 * would refuse it) is reported with its number and ipvsadm's message, and nothing is applied.
 * Otherwise the scratch engine's configuration is the result, applied as one configuration
 * change by the same applier as `config apply` (only the difference; one save).
 *
 * @module
 */
import { applyConfig, readRunning, scratchEngine } from "../../persist/apply.ts";
import { type ConfigDocument, formatConfig } from "../../persist/document.ts";
import { PROTOCOL_ERROR, RemoteError } from "../protocol.ts";
import { localRemote, type RemoteControl } from "../remote.ts";
import { applyChange, type ChangeCommand, isChangeCommand } from "./apply_command.ts";
import { EXIT_USAGE, type IpvsadmFailure } from "./command.ts";
import { describeFailure } from "./errors.ts";
import { parseIpvsadm } from "./parse.ts";

/** One command line of a restore input: its line number (from 1) and its words. */
export interface RestoreLine {
  line: number;
  words: string[];
}

/** A line that cannot be restored: ipvsadm's message and the exit status it goes with. */
export interface BadLine extends IpvsadmFailure {
  line: number;
}

/** What a restore input comes to: the configuration to run, or every line that is wrong. */
export type RestorePlan =
  | { ok: true; doc: ConfigDocument; commands: number }
  | { ok: false; bad: BadLine[]; commands: number };

/**
 * The command lines of `text`. Blank lines are skipped, as ipvsadm skips them; so are lines
 * whose first word starts with `#`, which ipvsadm would refuse but which people put in files
 * they keep.
 */
export function splitRestoreInput(text: string): RestoreLine[] {
  const lines: RestoreLine[] = [];
  text.split("\n").forEach((raw, i) => {
    let words = raw.split(/[ \t\r]+/).filter((w) => w !== "");
    if (words[0] === "ipvsadm") words = words.slice(1);
    if (words.length === 0 || words[0].startsWith("#")) return;
    lines.push({ line: i + 1, words });
  });
  return lines;
}

/** The refusal of a line that is valid ipvsadm but changes nothing a restore can apply. */
function notAChange(word: string): string {
  return `${word} does not change the configuration; a restore input holds only ` +
    `-A, -E, -D, -C, -a, -e, -d, -P, -Q and --set lines`;
}

/**
 * Checks every line of `text` against the configuration `control` runs now and works out the
 * configuration the input leads to. Changes nothing anywhere.
 */
export async function planRestore(
  text: string,
  control: RemoteControl,
  program = "ipvsadm",
): Promise<RestorePlan> {
  const bad: BadLine[] = [];
  const commands: { line: number; command: ChangeCommand }[] = [];
  const lines = splitRestoreInput(text);
  for (const { line, words } of lines) {
    const parsed = parseIpvsadm(words, program);
    if (!parsed.ok) bad.push({ line, ...parsed.error });
    else if (!isChangeCommand(parsed.command)) {
      bad.push({ line, message: notAChange(words[0]), exitCode: EXIT_USAGE });
    } else commands.push({ line, command: parsed.command });
  }
  // Lines that parsed are still carried out after a bad one, so one run names every bad line
  // (including those that fail because of an earlier one: they would fail the same way).
  const scratch = localRemote(scratchEngine());
  await applyConfig(scratch, await readRunning(control));
  for (const { line, command } of commands) {
    try {
      await applyChange(command, scratch);
    } catch (e) {
      bad.push({ line, ...describeFailure(command.kind, e) });
    }
  }
  if (bad.length > 0) {
    return { ok: false, bad: bad.sort((a, b) => a.line - b.line), commands: lines.length };
  }
  return { ok: true, doc: await readRunning(scratch), commands: lines.length };
}

/** How `-R` reports a refused input: every bad line, then that nothing was restored. */
export function formatBadLines(bad: readonly BadLine[], commands: number): string {
  return bad.map((b) => `line ${b.line}: ${b.message}`).join("\n") +
    `\nnothing restored: ${bad.length} of ${commands} command line${
      commands === 1 ? "" : "s"
    } refused`;
}

/** The default way to apply a restored configuration: the planned apply, from this process. */
export function applyHere(control: RemoteControl): (doc: ConfigDocument) => Promise<unknown> {
  return (doc) => applyConfig(control, doc);
}

/** A daemon connection that also reaches the ops registered beside the contract. */
export interface DaemonCalls extends RemoteControl {
  call(op: string, ...args: unknown[]): Promise<unknown>;
}

/**
 * Applies through the daemon's `configApply` op, so the whole input is one change there: one
 * save, one iptables sync, serialized with every other change. A daemon without the op gets
 * the same planned apply from this process.
 */
export function applyThroughDaemon(
  control: DaemonCalls,
): (doc: ConfigDocument) => Promise<unknown> {
  return async (doc) => {
    try {
      return await control.call("configApply", formatConfig(doc), { dryRun: false });
    } catch (e) {
      if (!(e instanceof RemoteError && e.code === PROTOCOL_ERROR.unknownOp)) throw e;
    }
    return await applyConfig(control, doc);
  };
}
