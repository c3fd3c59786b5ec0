/**
 * The interactive loop of `fullnat shell` on node:readline: prompt, history, Tab completion,
 * one command at a time. It is an admin's login shell, so it offers no way out to a system
 * shell: lines go only to the fullnat command tree, Ctrl-C clears the line, Ctrl-Z and Ctrl-\
 * are ignored, Ctrl-D on an empty line or `exit` logs out, and so does an idle timeout
 * (`idle.ts`) on a terminal.
 *
 * @module
 */
import process from "node:process";
import * as readline from "node:readline";
import type { Command } from "commander";
import { completeLine } from "./complete.ts";
import type { CommandContext } from "./context.ts";
import { runLine } from "./dispatch.ts";
import { HISTORY_LIMIT, loadHistory, saveHistory } from "./history.ts";
import { IdleTimer } from "./idle.ts";
import type { NameCache } from "./names.ts";
import { describeTree } from "./spec.ts";

/** Options of {@linkcode runInteractive}. */
export interface InteractiveOptions {
  ctx: CommandContext;
  build: (ctx: CommandContext) => Command;
  names: NameCache;
  /** The prompt, e.g. `fullnat@lb1> `. */
  prompt: string;
  /** History file; undefined keeps history in memory only. */
  historyFile?: string;
  /** Printed once before the first prompt (terminals only). */
  banner?: string;
  /** Log out after this many seconds without a key pressed (terminals only; 0: never). */
  idleTimeoutS?: number;
}

/** Signals a terminal can raise that must neither stop nor suspend the login shell. */
const IGNORED_SIGNALS: Deno.Signal[] = ["SIGTSTP", "SIGQUIT", "SIGTTIN", "SIGTTOU"];

/**
 * Reads command lines from stdin until `exit`, `quit` or end of input. On a terminal it
 * prompts, completes and keeps history, and the status is 0; with piped input (a script) it
 * only runs the lines, and the status is the last command's.
 */
export function runInteractive(o: InteractiveOptions): Promise<number> {
  const terminal = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const spec = describeTree(o.build(o.ctx));
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal,
    history: terminal ? loadHistory(o.historyFile) : [],
    historySize: HISTORY_LIMIT,
    removeHistoryDuplicates: true,
    completer: (line: string, callback: (err: null, result: [string[], string]) => void) => {
      o.names.get().then((names) => {
        const { candidates, word } = completeLine(line, spec, names);
        // A single match gets its separating space, as in any shell.
        callback(null, [candidates.length === 1 ? [`${candidates[0]} `] : candidates, word]);
      }, () => callback(null, [[], line]));
    },
  });
  const noop = () => {};
  if (terminal) {
    for (const s of IGNORED_SIGNALS) Deno.addSignalListener(s, noop);
    // In raw mode these keys arrive as readline events, not signals.
    rl.on("SIGINT", () => {
      // A command that runs until stopped (show log --follow, ping) stops; the prompt follows.
      if (o.ctx.interrupt()) return;
      rl.write("", { ctrl: true, name: "e" });
      rl.write("", { ctrl: true, name: "u" });
      process.stdout.write("^C\n");
      rl.prompt();
    });
    rl.on("SIGTSTP", noop);
    rl.on("SIGCONT", () => rl.prompt());
    if (o.banner) process.stdout.write(`${o.banner}\n`);
  }
  rl.setPrompt(o.prompt);
  // Only a person at a terminal is asked (reboot, shutdown); a script must say --yes.
  if (terminal) o.ctx.ask = (q) => new Promise((r) => rl.question(q, r));
  const idleS = terminal ? o.idleTimeoutS ?? 0 : 0;
  const idle = new IdleTimer(idleS * 1000, () => {
    process.stdout.write(`\nidle for ${idleS} s: logged out\n`);
    rl.close();
  });
  const typed = () => idle.activity();
  if (idleS > 0) process.stdin.on("keypress", typed);

  return new Promise((resolve) => {
    let chain: Promise<void> = Promise.resolve();
    let last = 0;
    let done = false;
    rl.on("line", (line: string) => {
      // Keep history tidy: no control keys or trailing blanks (a completion leaves one).
      // Undeclared in readline's types, but there: node's own history list, newest first.
      const history: string[] | undefined = Reflect.get(rl, "history");
      if (history?.[0] === line) {
        // deno-lint-ignore no-control-regex
        const clean = line.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "").trimEnd();
        if (clean === "") history.shift();
        else history[0] = clean;
      }
      idle.busy(true);
      chain = chain.then(async () => {
        if (done) return;
        last = await runLine(line, o.ctx, o.build);
        idle.busy(false);
        if (terminal && history) saveHistory(o.historyFile, history);
        if (o.ctx.exitRequested) {
          done = true;
          last = 0;
          rl.close();
        } else if (terminal) rl.prompt();
      });
    });
    rl.on("close", () => {
      idle.stop();
      process.stdin.off("keypress", typed);
      chain.then(() => {
        done = true;
        if (terminal) {
          process.stdout.write("\n");
          for (const s of IGNORED_SIGNALS) Deno.removeSignalListener(s, noop);
        }
        o.names.invalidate();
        o.ctx.ask = undefined;
        resolve(terminal ? 0 : last);
      });
    });
    if (terminal) rl.prompt();
  });
}
