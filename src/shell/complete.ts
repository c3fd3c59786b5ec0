/**
 * Tab completion for the admin shell, as a pure function of the line typed so far, the
 * command tree and the names the daemon knows (VIPs, real servers, local addresses). It
 * offers sub-commands, options (long spellings), option values with fixed choices, and
 * argument values by kind: `tcp`/`udp`, the VIPs of services of that protocol, the real
 * servers or local addresses of the service named before.
 *
 * @module
 */
import type { Endpoint, ServiceView } from "../fullnat/types.ts";
import { formatEndpoint, type Protocol, PROTOCOLS } from "../vocab/mod.ts";
import type { CommandSpec, OptionSpec } from "./spec.ts";
import { splitPartial } from "./words.ts";

/** A service's names, as completion needs them. */
export interface KnownService extends Endpoint {
  protocol: Protocol;
  realServers: Endpoint[];
  localAddresses: string[];
}

/** What to offer, and the typed word the offers replace. */
export interface Completion {
  candidates: string[];
  word: string;
}

/** Reduces a listing to the names completion offers. */
export function knownServices(services: readonly ServiceView[]): KnownService[] {
  return services.map((s) => ({
    protocol: s.protocol,
    address: s.address,
    port: s.port,
    realServers: s.realServers.map((r) => ({ address: r.address, port: r.port })),
    localAddresses: s.localAddresses.map((l) => l.address),
  }));
}

const named = (c: CommandSpec, word: string) => c.name === word || (c.aliases ?? []).includes(word);

function findOption(cmd: CommandSpec, word: string): OptionSpec | undefined {
  return cmd.options.find((o) => o.flags.includes(word));
}

/** Long spellings of options (short ones only where there is no long one). */
function optionWords(cmd: CommandSpec): string[] {
  return cmd.options.map((o) => o.flags.find((f) => f.startsWith("--")) ?? o.flags[0]);
}

/** Descends from `root` along command names at the start of `words`. */
function walk(root: CommandSpec, words: readonly string[]): { cmd: CommandSpec; used: number } {
  let cmd = root;
  let used = 0;
  while (used < words.length) {
    const next = cmd.subcommands.find((c) => named(c, words[used]));
    if (next === undefined) break;
    cmd = next;
    used++;
  }
  return { cmd, used };
}

function serviceOf(
  names: readonly KnownService[],
  protocol: string | undefined,
  vip: string | undefined,
): KnownService | undefined {
  return names.find((s) => s.protocol === protocol && formatEndpoint(s.address, s.port) === vip);
}

function byPrefix(words: readonly string[], prefix: string): string[] {
  return [...new Set(words.filter((w) => w.startsWith(prefix)))].sort();
}

/** What `line` (the text left of the cursor) could continue with. */
export function completeLine(
  line: string,
  root: CommandSpec,
  names: readonly KnownService[],
): Completion {
  const { words, current, invalid } = splitPartial(line);
  const none = { candidates: [], word: current };
  if (invalid || words[0] === "ipvsadm") return none;

  // `help a b` completes command paths.
  if (words[0] === "help") {
    const { cmd, used } = walk(root, words.slice(1));
    if (used !== words.length - 1) return none;
    return { candidates: byPrefix(cmd.subcommands.map((c) => c.name), current), word: current };
  }

  const { cmd, used } = walk(root, words);
  if (used === 0 && words.length === 0) {
    const top = [...root.subcommands.map((c) => c.name), "help"];
    return { candidates: byPrefix(top, current), word: current };
  }
  if (cmd.subcommands.length > 0) {
    if (used !== words.length) return none;
    return { candidates: byPrefix(cmd.subcommands.map((c) => c.name), current), word: current };
  }

  // A leaf: sort the remaining words into option values and positionals.
  const positionals: string[] = [];
  const usedOptions = new Set<OptionSpec>();
  let pendingValue: OptionSpec | undefined;
  for (const w of words.slice(used)) {
    if (pendingValue !== undefined) {
      pendingValue = undefined;
      continue;
    }
    if (w.startsWith("-") && w.length > 1) {
      const o = findOption(cmd, w.split("=")[0]);
      if (o !== undefined) {
        usedOptions.add(o);
        if (o.takesValue && !w.includes("=")) pendingValue = o;
      }
      continue;
    }
    positionals.push(w);
  }
  if (pendingValue !== undefined) {
    return { candidates: byPrefix(pendingValue.choices ?? [], current), word: current };
  }
  const freeOptions = cmd.options.filter((o) => !usedOptions.has(o));
  if (current.startsWith("-")) {
    return {
      candidates: byPrefix(optionWords({ ...cmd, options: freeOptions }), current),
      word: current,
    };
  }

  const arg = cmd.args[Math.min(positionals.length, cmd.args.length - 1)];
  const beyond = positionals.length >= cmd.args.length && !arg?.variadic;
  let values: string[] = [];
  if (arg !== undefined && !beyond) {
    const service = serviceOf(names, positionals[0], positionals[1]);
    switch (arg.kind) {
      case "protocol":
        values = [...PROTOCOLS];
        break;
      case "vip":
        values = names.filter((s) => s.protocol === positionals[0])
          .map((s) => formatEndpoint(s.address, s.port));
        break;
      case "rs":
        values = (service?.realServers ?? []).map((r) => formatEndpoint(r.address, r.port));
        break;
      case "laddr":
        values = service?.localAddresses ?? [];
        break;
      default:
        values = arg.choices ?? [];
    }
  }
  const candidates = byPrefix(values, current);
  // Nothing to offer for the argument: offer the options instead, once nothing is typed.
  if (candidates.length === 0 && current === "") {
    return { candidates: byPrefix(optionWords({ ...cmd, options: freeOptions }), ""), word: "" };
  }
  return { candidates, word: current };
}
