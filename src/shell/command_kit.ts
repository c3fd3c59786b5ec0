/**
 * Building blocks shared by the admin commands: the service arguments (`<protocol>
 * <vip:port>`), the `--json` and `--socket` options, and the action wrapper that turns any
 * failure into one error line and an exit status on the context.
 *
 * @module
 */
import { Argument, type Command, Option } from "commander";
import type { ServiceKey } from "../fullnat/types.ts";
import type { CommandContext, ShellControl } from "./context.ts";
import { describeError, isConnectionFailure, UsageError } from "./errors.ts";
import {
  parseEndpointText,
  parseMethod,
  parseMhTableSize,
  parseProtocol,
  parseScheduler,
  parseSchedulerFlags,
  serviceKey,
} from "./values.ts";
import {
  FORWARD_METHODS,
  MH_TABLE_SIZES,
  PROTOCOL_CHOICES,
  PROTOCOLS,
  SCHEDULER_FLAGS,
  SCHEDULERS,
} from "../vocab/mod.ts";

/** What tab completion offers for an argument: protocols, or names fetched from the daemon. */
export type NameKind = "protocol" | "vip" | "rs" | "laddr";

/** Completion kinds of arguments, kept beside commander's own objects. */
export const ARGUMENT_KINDS: WeakMap<Argument, NameKind> = new WeakMap();

function argument(
  cmd: Command,
  spec: string,
  description: string,
  parse: ((v: string) => unknown) | undefined,
  kind?: NameKind,
): void {
  const arg = new Argument(spec, description);
  if (parse) arg.argParser(parse);
  if (kind) ARGUMENT_KINDS.set(arg, kind);
  cmd.addArgument(arg);
}

/** Adds `<protocol> <vip:port>` (or optional `[protocol] [vip:port]`). */
export function serviceArguments(cmd: Command, optional = false): Command {
  const [open, close] = optional ? ["[", "]"] : ["<", ">"];
  argument(cmd, `${open}protocol${close}`, PROTOCOL_CHOICES, parseProtocol, "protocol");
  argument(cmd, `${open}vip:port${close}`, "virtual address and port", parseEndpointText, "vip");
  return cmd;
}

/** Adds an address:port argument; `existing` offers the service's real servers on Tab. */
export function endpointArgument(
  cmd: Command,
  name: string,
  description: string,
  existing: boolean,
): Command {
  argument(cmd, `<${name}>`, description, parseEndpointText, existing ? "rs" : undefined);
  return cmd;
}

/** Adds a plain address argument; `existing` offers the service's local addresses on Tab. */
export function addressArgument(
  cmd: Command,
  name: string,
  description: string,
  parse: (v: string) => unknown,
  existing: boolean,
): Command {
  argument(cmd, `<${name}>`, description, parse, existing ? "laddr" : undefined);
  return cmd;
}

/** The service key from optional `[protocol] [vip:port]` arguments, if both were given. */
export function optionalServiceKey(args: readonly unknown[]): ServiceKey | undefined {
  const [protocol, vip] = args as [
    ReturnType<typeof parseProtocol>?,
    ReturnType<typeof parseEndpointText>?,
  ];
  if (protocol === undefined) return undefined;
  if (vip === undefined) {
    throw new UsageError(`give the service as PROTOCOL VIP:PORT, e.g. ${protocol} 192.0.2.10:80`);
  }
  return serviceKey(protocol, vip);
}

/** The service key from required `<protocol> <vip:port>` arguments. */
export function requiredServiceKey(args: readonly unknown[]): ServiceKey {
  const key = optionalServiceKey(args);
  if (key === undefined) throw new UsageError("give the service as PROTOCOL VIP:PORT");
  return key;
}

/** `--json`. */
export function jsonOption(cmd: Command): Command {
  return cmd.option("--json", "print JSON for scripts instead of a table");
}

/** `-s, --scheduler <name>` with choices shown in help and checked by the value parser. */
export function schedulerOption(description: string): Option {
  return new Option("-s, --scheduler <name>", description).choices(SCHEDULERS).argParser(
    parseScheduler,
  );
}

/** `-b, --sched-flags <flags>`: the flag names are offered one at a time. */
export function schedulerFlagsOption(description: string): Option {
  const option = new Option("-b, --sched-flags <flags>", description).argParser(
    parseSchedulerFlags,
  );
  // Offered by completion; not commander's choices, which would refuse a comma list.
  option.argChoices = [...SCHEDULER_FLAGS, "none"];
  return option;
}

/** `--mh-table-size <size>`, one of IPVS's primes. */
export function mhTableSizeOption(description: string): Option {
  return new Option("--mh-table-size <size>", description)
    .choices(MH_TABLE_SIZES.map(String)).argParser(parseMhTableSize);
}

/** `-m, --method <method>`. */
export function methodOption(description: string): Option {
  return new Option("-m, --method <method>", description).choices(FORWARD_METHODS).argParser(
    parseMethod,
  );
}

/** The protocols, for options that filter by one. */
export function protocolOption(flags: string, description: string): Option {
  return new Option(flags, description).choices(PROTOCOLS).argParser(parseProtocol);
}

/** What an action receives: its parsed arguments, its options and the daemon connection. */
export interface ActionInput {
  args: unknown[];
  opts: Record<string, unknown>;
  /** Connects (or reuses the session's connection) on first use. */
  control(): Promise<ShellControl>;
}

/**
 * Makes a commander action that runs `body` and records the outcome on `ctx`: exit 0, or one
 * `error: ...` line and the exit status for that kind of failure.
 */
export function action(
  ctx: CommandContext,
  body: (input: ActionInput) => Promise<void> | void,
): (...a: unknown[]) => Promise<void> {
  return async (...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const opts = cmd.opts();
    const input: ActionInput = {
      args: cmd.processedArgs,
      opts,
      control: () => ctx.control(typeof opts.socket === "string" ? opts.socket : undefined),
    };
    try {
      await body(input);
      ctx.exitCode = 0;
    } catch (e) {
      const { message, exitCode } = describeError(e);
      ctx.io.err(`error: ${message}`);
      ctx.exitCode = exitCode;
      if (isConnectionFailure(e)) ctx.resetControl();
    }
  };
}

/**
 * Adds a leaf command under `parent`: description, and in one-shot mode `--socket` (inside the
 * shell the session's connection is used).
 */
export function leaf(
  ctx: CommandContext,
  parent: Command,
  name: string,
  description: string,
): Command {
  const cmd = parent.command(name).description(description);
  if (ctx.mode === "oneshot") {
    cmd.option(
      "--socket <path>",
      "daemon control socket (default $FULLNAT_SOCKET or /run/fullnat/control.sock)",
    );
  }
  return cmd;
}

/** Prints a value as JSON (for `--json`). */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.out(JSON.stringify(value, null, 2));
}
