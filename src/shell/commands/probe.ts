/**
 * `ping` and `traceroute` from the appliance, with bounded counts and waits so a command
 * always ends, numeric output (no reverse lookups), and checked values only: the host and the
 * interface cannot start with '-', so neither can be read as an option of the program.
 *
 * @module
 */
import type { Command } from "commander";
import { action, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { parseHost, parseInterface, runProgram } from "../run_program.ts";
import { wholeNumberParser } from "../values.ts";

/** Most echo requests one `ping` sends. */
export const MAX_PINGS = 100;
/** Most hops `traceroute` tries. */
export const MAX_HOPS = 64;

/** What `ping` was asked for. */
export interface PingRequest {
  host: string;
  count: number;
  interface?: string;
}

/** The ping command line: one request a second, each reply awaited 2 s, all over in count+2 s. */
export function pingArgv(req: PingRequest): string[] {
  return [
    "ping",
    "-n",
    "-c",
    String(req.count),
    "-W",
    "2",
    "-w",
    String(req.count + 2),
    ...(req.interface === undefined ? [] : ["-I", req.interface]),
    req.host,
  ];
}

/** What `traceroute` was asked for. */
export interface TracerouteRequest {
  host: string;
  maxHops: number;
  interface?: string;
}

/** The traceroute command line: 2 probes per hop, 2 s each, numeric. */
export function tracerouteArgv(req: TracerouteRequest): string[] {
  return [
    "traceroute",
    "-n",
    "-q",
    "2",
    "-w",
    "2",
    "-m",
    String(req.maxHops),
    ...(req.interface === undefined ? [] : ["-i", req.interface]),
    req.host,
  ];
}

/** Adds `ping` and `traceroute`. */
export function addProbeCommands(ctx: CommandContext, root: Command): void {
  leaf(ctx, root, "ping", "send ICMP echo requests to a host (Ctrl-C stops)")
    .argument("<host>", "IP address or host name", parseHost)
    .option(
      "-c, --count <n>",
      `how many requests, 1 to ${MAX_PINGS}`,
      wholeNumberParser("number of requests", 1, MAX_PINGS),
      5,
    )
    .option("-I, --interface <name>", "send from this interface", parseInterface)
    .action(action(ctx, ({ args, opts }) =>
      runProgram(
        ctx,
        pingArgv({
          host: args[0] as string,
          count: opts.count as number,
          ...(opts.interface !== undefined && { interface: opts.interface as string }),
        }),
      )));

  leaf(ctx, root, "traceroute", "show the hops to a host (Ctrl-C stops)")
    .argument("<host>", "IP address or host name", parseHost)
    .option(
      "-m, --max-hops <n>",
      `hops to try, 1 to ${MAX_HOPS}`,
      wholeNumberParser("number of hops", 1, MAX_HOPS),
      30,
    )
    .option("-I, --interface <name>", "send from this interface", parseInterface)
    .action(action(ctx, ({ args, opts }) =>
      runProgram(
        ctx,
        tracerouteArgv({
          host: args[0] as string,
          maxHops: opts.maxHops as number,
          ...(opts.interface !== undefined && { interface: opts.interface as string }),
        }),
      )));
}
