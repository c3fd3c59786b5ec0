/**
 * The concrete {@linkcode CommandContext}: a lazily opened, reused control connection (and
 * extra ones for `--socket` overrides), file input, and output to the process's stdout and
 * stderr (or any {@linkcode Output}).
 *
 * @module
 */
import { ControlClient } from "../ctl/client.ts";
import { readConfigFile } from "./commands/config.ts";
import type { CommandContext, Mode, Output, ShellControl } from "./context.ts";
import { type Host, systemHost } from "./host.ts";

/** Opens a control connection (tests pass an in-process one). */
export type Connector = (path: string) => Promise<ShellControl & { close(): unknown }>;

/** Options of {@linkcode createContext}. */
export interface RuntimeOptions {
  mode: Mode;
  /** The daemon's control socket. */
  socket: string;
  io?: Output;
  connect?: Connector;
  /** Reads all of standard input, for `config apply -`; absent when stdin is the terminal. */
  stdin?: () => Promise<string>;
  helpWidth?: number;
  /** Told when a command changed the configuration. */
  onChange?: () => void;
  /** The machine (tests pass a fake); default the real one. */
  host?: Host;
}

/** A context plus the means to release its connections. */
export interface Runtime extends CommandContext {
  /** Closes every connection the commands opened. */
  close(): Promise<void>;
}

/** Writes all of `bytes` to a Deno writer. */
async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
}

/**
 * Writes lines to the process's stdout and stderr, and bytes unchanged (console.log writes
 * synchronously, so lines and bytes come out in the order they were written).
 */
export const processOutput: Output = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  bytes: (chunk, stream) => writeAll(stream === "out" ? Deno.stdout : Deno.stderr, chunk),
};

/** Builds a context whose connection opens on first use and stays open until `close`. */
export function createContext(options: RuntimeOptions): Runtime {
  const connect: Connector = options.connect ?? ((path) => ControlClient.connect(path));
  const open = new Map<string, Promise<ShellControl & { close(): unknown }>>();
  const connection = (path: string) => {
    let c = open.get(path);
    if (c === undefined) {
      c = connect(path);
      open.set(path, c);
      // A failed connect is not cached: the next command tries again.
      c.catch(() => open.delete(path));
    }
    return c;
  };
  let running: AbortController | undefined;
  const runtime: Runtime = {
    host: options.host ?? systemHost(),
    async interruptible(fn) {
      const controller = running = new AbortController();
      try {
        return await fn(controller.signal);
      } finally {
        if (running === controller) running = undefined;
      }
    },
    interrupt() {
      if (running === undefined) return false;
      running.abort();
      return true;
    },
    mode: options.mode,
    io: options.io ?? processOutput,
    helpWidth: options.helpWidth ?? 80,
    exitCode: 0,
    exitRequested: false,
    control: (socket) => connection(socket ?? options.socket),
    resetControl() {
      for (const c of open.values()) c.then((x) => x.close(), () => {});
      open.clear();
    },
    readInput: (path) => readConfigFile(path, options.stdin),
    changed: () => options.onChange?.(),
    async close() {
      const all = [...open.values()];
      open.clear();
      await Promise.allSettled(all.map(async (c) => await (await c).close()));
    },
  };
  return runtime;
}
