/**
 * What every admin command runs against: where its output goes, how it reaches the daemon,
 * and where it leaves its exit status. One context serves a one-shot command or a whole
 * interactive session.
 *
 * @module
 */
import type { RemoteControl } from "../ctl/remote.ts";
import type { Host } from "./host.ts";

/** The control contract plus the daemon's extra ops (`status`, `configExport`, ...). */
export interface ShellControl extends RemoteControl {
  /** Calls any op by name; see `ControlClient.call`. */
  call(op: string, ...args: unknown[]): Promise<unknown>;
}

/** Where a command writes; each call is one or more whole lines (no trailing newline). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /**
   * Writes bytes unchanged (a program's output as it streams, a pcap file): no newline added,
   * nothing decoded. Without it the bytes are decoded as text and written as lines.
   */
  bytes?(chunk: Uint8Array, stream: "out" | "err"): Promise<void>;
}

/** Whether the commands run once from the command line or inside `fullnat shell`. */
export type Mode = "oneshot" | "shell";

/** The state a command tree runs against. */
export interface CommandContext {
  readonly mode: Mode;
  readonly io: Output;
  /** The daemon connection; `socket` overrides the default path for this command only. */
  control(socket?: string): Promise<ShellControl>;
  /** Forgets a connection that failed, so the next command connects afresh. */
  resetControl(): void;
  /** Reads a file named on the command line (`-` is standard input where that makes sense). */
  readInput(path: string): Promise<string>;
  /** Told after a command changed the configuration (completion caches refresh). */
  changed(): void;
  /** The machine the shell runs on: programs (journalctl, ping, ...) and files it reads. */
  readonly host: Host;
  /**
   * Runs `fn` with a signal that Ctrl-C at the interactive prompt aborts (a `show log
   * --follow`, a long ping); elsewhere the signal is never aborted.
   */
  interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Aborts what {@linkcode interruptible} runs; true when something was running. */
  interrupt(): boolean;
  /**
   * Asks the person at the terminal and resolves with the answer; absent when nobody can be
   * asked (one-shot, `-c`, a script), so commands that need a yes take `--yes` instead.
   */
  ask?: (question: string) => Promise<string>;
  /** Columns for help text. */
  readonly helpWidth: number;
  /** Status of the last command; actions set it. */
  exitCode: number;
  /** Set by `exit` / `quit`. */
  exitRequested: boolean;
}
