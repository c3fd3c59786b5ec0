/**
 * The option table of ipvsadm (with Alibaba's FULLNAT additions) and a tokenizer that splits an
 * argv the way popt does for ipvsadm: short options clustered (`-Lnc`), a short option's value
 * glued (`-t1.2.3.4:80`) or in the next word, long options as `--name value` or `--name=value`,
 * `-p`'s optional value taken only when the next word does not start with `-`, words that are
 * not options collected as positionals, and `--` ending the options.
 *
 * @module
 */
import { FORWARD_METHOD_TABLE, PROTOCOL_TABLE } from "../../vocab/mod.ts";

/** What an option does in ipvsadm's grammar. */
export type OptionRole = "command" | "option" | "unsupported";

/** Whether an option takes a value. */
export type ArgKind = "none" | "required" | "optional";

/** One entry of the option table. */
export interface OptionSpec {
  /** Stable name used by the parser; the long name without dashes. */
  id: string;
  short?: string;
  long: string;
  arg: ArgKind;
  role: OptionRole;
}

const spec = (
  id: string,
  short: string | undefined,
  arg: ArgKind,
  role: OptionRole,
  long = id,
): OptionSpec => ({ id, short, long, arg, role });

/**
 * Every option ipvsadm knows. Options of ipvsadm that fullnat cannot honour (fwmark services,
 * SNAT gateway rules) are listed as `unsupported` so they are refused by name
 * instead of being reported as unknown.
 */
export const OPTION_TABLE: readonly OptionSpec[] = [
  spec("add-service", "A", "none", "command"),
  spec("edit-service", "E", "none", "command"),
  spec("delete-service", "D", "none", "command"),
  spec("clear", "C", "none", "command"),
  spec("list", "L", "none", "command"),
  spec("list", "l", "none", "command"),
  spec("zero", "Z", "none", "command"),
  spec("add-server", "a", "none", "command"),
  spec("edit-server", "e", "none", "command"),
  spec("delete-server", "d", "none", "command"),
  spec("set", undefined, "none", "command"),
  spec("help", "h", "none", "command"),
  spec("version", "v", "none", "command"),
  spec("add-laddr", "P", "none", "command"),
  spec("del-laddr", "Q", "none", "command"),
  spec("get-laddr", "G", "none", "command"),
  spec("save", "S", "none", "command"),
  spec("restore", "R", "none", "command"),
  // -t, -u: one per protocol of the vocabulary.
  ...PROTOCOL_TABLE.map((p) => spec(p.ipvsadm.long, p.ipvsadm.short, "required", "option")),
  spec("scheduler", "s", "required", "option"),
  spec("persistent", "p", "optional", "option"),
  spec("netmask", "M", "required", "option"),
  // Mainline ipvsadm's -b; the FULLNAT ipvsadm's -b is --fullnat (see SHORT_BY_COMMAND).
  spec("sched-flags", undefined, "required", "option"),
  spec("real-server", "r", "required", "option"),
  // -b, -m, -g, -i: every method ipvsadm names; the parser refuses those not implemented.
  ...FORWARD_METHOD_TABLE.map((m) => spec(m.ipvsadm.long, m.ipvsadm.short, "none", "option")),
  spec("weight", "w", "required", "option"),
  spec("numeric", "n", "none", "option"),
  spec("connection", "c", "none", "option"),
  spec("timeout", undefined, "none", "option"),
  spec("stats", undefined, "none", "option"),
  spec("rate", undefined, "none", "option"),
  spec("persistent-conn", undefined, "none", "option"),
  spec("exact", "X", "none", "option"),
  spec("nosort", undefined, "none", "option"),
  spec("sort", undefined, "none", "option"),
  spec("laddr", "z", "required", "option"),
  spec("u-threshold", "x", "required", "option"),
  spec("l-threshold", "y", "required", "option"),
  spec("thresholds", undefined, "none", "option"),
  spec("ops", "o", "none", "option"),
  // Alibaba LVS's later ipvsadm: a service's own ESTABLISHED timeout; keepalived's word for it
  // (est_timeout) is taken as a long name too.
  spec("vsestablish-timeout", "V", "required", "option"),
  spec("vsestablish-timeout", undefined, "required", "option", "est_timeout"),
  spec("vsestablish-timeout", undefined, "required", "option", "est-timeout"),
  // ipvsadm 1.31's tunnel encapsulation of a TUNNEL real server, and its listing.
  spec("tun-info", undefined, "none", "option"),
  spec("tun-type", undefined, "required", "option"),
  spec("tun-port", undefined, "required", "option"),
  spec("tun-nocsum", undefined, "none", "option"),
  spec("tun-csum", undefined, "none", "option"),
  spec("tun-remcsum", undefined, "none", "option"),
  // fullnat's own (issue 16): per-source limits of a service; no ipvsadm has them.
  spec("source-rate", undefined, "required", "option"),
  spec("source-sessions", undefined, "required", "option"),
  // Alibaba LVS's ipvsadm: a service's SYN proxy, `-j enable|disable`.
  spec("synproxy", "j", "required", "option"),
  spec("start-daemon", undefined, "required", "command"),
  spec("stop-daemon", undefined, "required", "command"),
  spec("add-snat", "K", "none", "unsupported"),
  spec("edit-snat", "k", "none", "unsupported"),
  spec("delete-snat", "H", "none", "unsupported"),
  spec("fwmark-service", "f", "required", "unsupported"),
  spec("mcast-interface", undefined, "required", "option"),
  spec("syncid", undefined, "required", "option"),
  spec("daemon", undefined, "none", "option"),
  spec("sync-maxlen", undefined, "required", "option"),
  spec("mcast-group", undefined, "required", "option"),
  spec("mcast-port", undefined, "required", "option"),
  spec("mcast-ttl", undefined, "required", "option"),
  spec("ipv6", "6", "none", "unsupported"),
  spec("pe", undefined, "required", "unsupported"),

  spec("from", "F", "required", "unsupported"),
  spec("to", "T", "required", "unsupported"),
  spec("gw", "W", "required", "unsupported"),
  spec("snat-ip", "U", "required", "unsupported"),
  spec("algo", "O", "required", "unsupported"),
  spec("new-gw", "N", "required", "unsupported"),
  spec("oif", undefined, "required", "unsupported"),
];

const byShort = new Map(
  OPTION_TABLE.filter((o) => o.short !== undefined).map((o) => [o.short as string, o]),
);
// "list" appears twice (-L and -l); the first entry is the canonical long form.
const byLong = new Map<string, OptionSpec>();
for (const o of OPTION_TABLE) if (!byLong.has(o.long)) byLong.set(o.long, o);

/**
 * Short options that mean something else after some commands. `-b` is `--fullnat` in the
 * FULLNAT ipvsadm (a real server's forwarding method) and `--sched-flags FLAGS` in mainline
 * ipvsadm (a service's scheduler flags, `-A|-E ... -b sh-port`): the service commands never
 * take a forwarding method, so there `-b` is read as mainline reads it and runbooks of both
 * work.
 */
const SHORT_BY_COMMAND: Record<string, Map<string, OptionSpec>> = {
  "add-service": new Map([["b", byLong.get("sched-flags")!]]),
  "edit-service": new Map([["b", byLong.get("sched-flags")!]]),
};

/** popt's error texts for the failures this tokenizer can report. */
export type TokenError = "unknown option" | "missing argument" | "option does not take an argument";

/** One option occurrence, or the popt-style error that stopped tokenizing. */
export type Token =
  | { type: "option"; spec: OptionSpec; text: string; value?: string }
  | { type: "error"; text: string; error: TokenError };

/** The options in order (ending at the first error, if any) and the leftover words. */
export interface Tokenized {
  tokens: Token[];
  positionals: string[];
}

/** Splits argv (without the program name) into option tokens and positional words. */
export function tokenize(argv: readonly string[]): Tokenized {
  const tokens: Token[] = [];
  const positionals: string[] = [];
  let i = 0;
  const nextWord = (): string | undefined => (i < argv.length ? argv[i++] : undefined);
  const optionalWord = (): string | undefined =>
    i < argv.length && !argv[i].startsWith("-") ? argv[i++] : undefined;
  // Set once the first token names the command.
  let shorts: Map<string, OptionSpec> | undefined;
  const first = () => {
    const t = tokens[0];
    if (shorts === undefined && t?.type === "option" && t.spec.role === "command") {
      shorts = SHORT_BY_COMMAND[t.spec.id] ?? new Map();
    }
  };

  while (i < argv.length) {
    const word = argv[i++];
    if (word === "--") {
      positionals.push(...argv.slice(i));
      break;
    }
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = word.slice(2, eq < 0 ? undefined : eq);
      const glued = eq < 0 ? undefined : word.slice(eq + 1);
      const found = byLong.get(name);
      if (found === undefined) {
        tokens.push({ type: "error", text: word, error: "unknown option" });
        return { tokens, positionals };
      }
      let value: string | undefined = glued;
      if (found.arg === "none" && glued !== undefined) {
        tokens.push({ type: "error", text: word, error: "option does not take an argument" });
        return { tokens, positionals };
      }
      if (found.arg === "required" && value === undefined) {
        value = nextWord();
        if (value === undefined) {
          tokens.push({ type: "error", text: word, error: "missing argument" });
          return { tokens, positionals };
        }
      }
      if (found.arg === "optional" && value === undefined) value = optionalWord();
      tokens.push({ type: "option", spec: found, text: word, value });
      first();
      continue;
    }
    if (word.startsWith("-") && word.length > 1) {
      for (let c = 1; c < word.length; c++) {
        first();
        const found = shorts?.get(word[c]) ?? byShort.get(word[c]);
        if (found === undefined) {
          tokens.push({ type: "error", text: word, error: "unknown option" });
          return { tokens, positionals };
        }
        if (found.arg === "none") {
          tokens.push({ type: "option", spec: found, text: word });
          continue;
        }
        // An option with a value ends the cluster: the rest of the word is its value.
        const rest = word.slice(c + 1);
        let value: string | undefined = rest.length > 0 ? rest : undefined;
        if (value === undefined) value = found.arg === "required" ? nextWord() : optionalWord();
        if (value === undefined && found.arg === "required") {
          tokens.push({ type: "error", text: word, error: "missing argument" });
          return { tokens, positionals };
        }
        tokens.push({ type: "option", spec: found, text: word, value });
        break;
      }
      continue;
    }
    positionals.push(word);
  }
  return { tokens, positionals };
}

/** How an option is named in messages: `-t` (`--tcp-service`) or just `--timeout`. */
export function displayName(option: OptionSpec): string {
  return option.short === undefined ? `--${option.long}` : `-${option.short} (--${option.long})`;
}
