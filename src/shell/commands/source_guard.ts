/**
 * The source guard options of `service add` and `service edit`: `--allow` and `--deny` lists
 * of client prefixes (DPVS's whitelist and blacklist), `--source-rate` and `--source-sessions`
 * per client address. Lists are comma-separated; in an edit a list replaces the service's, and
 * `none` empties it. The engine checks the prefixes (family, host bits) and says what is wrong.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import type { ServiceOptions } from "../../fullnat/types.ts";
import { parseSourceLimit } from "../values.ts";

/** A comma-separated prefix list, or `none` for an empty one. */
function parsePrefixList(text: string): string[] {
  if (text === "none") return [];
  const items = text.split(",").map((p) => p.trim());
  if (items.some((p) => p === "")) {
    throw new InvalidArgumentError(
      `'${text}' has an empty entry: give prefixes separated by commas, e.g. ` +
        "192.0.2.0/24,198.51.100.7 (or none)",
    );
  }
  return items;
}

/** Adds `--allow`, `--deny`, `--source-rate` and `--source-sessions`. */
export function sourceGuardOptions(cmd: Command): Command {
  return cmd
    .option(
      "--allow <prefixes|none>",
      "only these client prefixes may open connections (comma-separated; none: every source)",
      parsePrefixList,
    )
    .option(
      "--deny <prefixes|none>",
      "client prefixes refused new connections; wins over --allow (comma-separated)",
      parsePrefixList,
    )
    .option(
      "--source-rate <n>",
      "new connections per second one client address may open (0: no limit)",
      parseSourceLimit,
    )
    .option(
      "--source-sessions <n>",
      "sessions one client address may hold open (0: no limit)",
      parseSourceLimit,
    );
}

/** The source guard settings the options give (none when none were given). */
export function sourceGuardFrom(opts: Record<string, unknown>): Partial<ServiceOptions> {
  const out: Partial<ServiceOptions> = {};
  if (Array.isArray(opts.allow)) out.allow = opts.allow as string[];
  if (Array.isArray(opts.deny)) out.deny = opts.deny as string[];
  if (typeof opts.sourceRate === "number") out.sourceRate = opts.sourceRate;
  if (typeof opts.sourceSessions === "number") out.sourceSessions = opts.sourceSessions;
  return out;
}
