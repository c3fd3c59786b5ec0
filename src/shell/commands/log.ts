/**
 * `show log`: the journal of the appliance's own units (the daemon, provisioning, keepalived)
 * through journalctl, with an argument list built here from checked values only: a value is
 * passed as `--option=value` in one word, so nothing typed can become an option of journalctl.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { action, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { runProgram } from "../run_program.ts";
import { wholeNumberParser } from "../values.ts";

/** The units `--unit` names. */
export const LOG_UNITS = {
  daemon: ["fullnat.service"],
  provision: ["fullnat-provision.service"],
  keepalived: ["keepalived.service"],
  all: ["fullnat.service", "fullnat-provision.service", "keepalived.service"],
} as const;

/** Name of a `--unit` choice. */
export type LogUnit = keyof typeof LOG_UNITS;

/** Most lines `--lines` may ask for. */
export const MAX_LOG_LINES = 100_000;

const UNITS = { s: "s", m: "min", h: "h", d: "d" } as const;

/**
 * `--since`: `30m`, `2h`, `1d`, `45s` (that long ago), `today`, `yesterday`, or a time
 * `YYYY-MM-DD[ HH:MM[:SS]]`; returned in journalctl's own words.
 */
export function parseSince(text: string): string {
  const ago = /^([0-9]{1,6})([smhd])$/.exec(text);
  if (ago) return `-${ago[1]}${UNITS[ago[2] as keyof typeof UNITS]}`;
  if (text === "today" || text === "yesterday") return text;
  const at = /^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[ T]([0-9]{2}:[0-9]{2}(?::[0-9]{2})?))?$/.exec(text);
  if (at) return at[2] === undefined ? at[1] : `${at[1]} ${at[2]}`;
  throw new InvalidArgumentError(
    `'${text}' is not a time: give e.g. 30m, 2h, 1d (that long ago), today, yesterday, ` +
      `2026-12-06 or "2026-12-06 14:30"`,
  );
}

/** `--grep`: a pattern of at most 200 printable characters. */
export function parseGrep(text: string): string {
  // deno-lint-ignore no-control-regex
  if (text.length === 0 || text.length > 200 || /[\x00-\x1f\x7f]/.test(text)) {
    throw new InvalidArgumentError("give --grep a pattern of 1 to 200 printable characters");
  }
  return text;
}

/** What `show log` was asked for. */
export interface LogRequest {
  unit: LogUnit;
  lines: number;
  follow: boolean;
  since?: string;
  grep?: string;
}

/** The journalctl command line for `req`. */
export function journalctlArgv(req: LogRequest): string[] {
  const argv = ["journalctl", "--no-pager", "--output=short-iso", `--lines=${req.lines}`];
  for (const unit of LOG_UNITS[req.unit]) argv.push(`--unit=${unit}`);
  if (req.since !== undefined) argv.push(`--since=${req.since}`);
  if (req.grep !== undefined) argv.push(`--grep=${req.grep}`);
  if (req.follow) argv.push("--follow");
  return argv;
}

/** Adds `log` under `show`. */
export function addLogCommand(ctx: CommandContext, show: Command): void {
  leaf(ctx, show, "log", "the journal of the daemon, provisioning or keepalived")
    .addOption(
      new Option("--unit <unit>", "whose journal").choices(Object.keys(LOG_UNITS)).default(
        "daemon",
      ),
    )
    .option(
      "-n, --lines <n>",
      "how many of the last lines",
      wholeNumberParser("number of lines", 1, MAX_LOG_LINES),
      100,
    )
    .option("--since <time>", "from then on: 30m, 2h, 1d, today, 2026-12-06 14:30", parseSince)
    .option("--grep <pattern>", "only lines matching the pattern (journalctl --grep)", parseGrep)
    .option("-f, --follow", "keep printing new lines (Ctrl-C stops)")
    .action(action(ctx, ({ opts }) =>
      runProgram(
        ctx,
        journalctlArgv({
          unit: opts.unit as LogUnit,
          lines: opts.lines as number,
          follow: opts.follow === true,
          ...(opts.since !== undefined && { since: opts.since as string }),
          ...(opts.grep !== undefined && { grep: opts.grep as string }),
        }),
      )));
}
