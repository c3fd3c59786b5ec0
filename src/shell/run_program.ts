/**
 * Runs a program of the host for a command (journalctl, ping, traceroute, systemctl) with its
 * fixed argument list, its output streamed to the session unchanged as it comes, and Ctrl-C at
 * the prompt stopping it. Also the checks of the values such commands pass on: host names and
 * interface names are checked here so that no value can be read as an option by the program.
 *
 * @module
 */
import { InvalidArgumentError } from "commander";
import type { CommandContext } from "./context.ts";
import { ProgramFailedError } from "./errors.ts";
import { canonicalAddress } from "../vocab/mod.ts";

/** Writes bytes to the session, as bytes when it takes them, else as lines of text. */
export function sessionSink(ctx: CommandContext): {
  write(chunk: Uint8Array, stream: "out" | "err"): Promise<void>;
  flush(): void;
} {
  const bytes = ctx.io.bytes?.bind(ctx.io);
  if (bytes !== undefined) return { write: bytes, flush: () => {} };
  const decoders = { out: new TextDecoder(), err: new TextDecoder() };
  const partial = { out: "", err: "" };
  const emit = (stream: "out" | "err", text: string) =>
    stream === "out" ? ctx.io.out(text) : ctx.io.err(text);
  return {
    write(chunk, stream) {
      const text = partial[stream] + decoders[stream].decode(chunk, { stream: true });
      const cut = text.lastIndexOf("\n");
      if (cut >= 0) emit(stream, text.slice(0, cut));
      partial[stream] = text.slice(cut + 1);
      return Promise.resolve();
    },
    flush() {
      for (const s of ["out", "err"] as const) {
        if (partial[s] !== "") emit(s, partial[s]);
        partial[s] = "";
      }
    },
  };
}

/** Runs `argv` on the host for the session; a non-zero status throws. */
export async function runProgram(ctx: CommandContext, argv: readonly string[]): Promise<void> {
  const sink = sessionSink(ctx);
  const status = await ctx.interruptible((signal) => ctx.host.run(argv, sink.write, signal));
  sink.flush();
  if (status !== 0) throw new ProgramFailedError(argv[0], status);
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A host to probe: an IPv4/IPv6 address or a DNS name (never anything that starts with '-'). */
export function parseHost(text: string): string {
  const address = canonicalAddress(text);
  if (address !== undefined) return address;
  if (HOST_NAME.test(text)) return text;
  throw new InvalidArgumentError(
    `'${text}' is not an IP address or host name: write e.g. 192.0.2.1 or gw.example.net`,
  );
}

/** A network interface name as Linux allows it (at most 15 characters, no '/' or blanks). */
export function parseInterface(text: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(text) && text !== "." && text !== "..") {
    return text;
  }
  throw new InvalidArgumentError(
    `'${text}' is not an interface name: give one such as eth0 or eth1.100 (see show interfaces)`,
  );
}
