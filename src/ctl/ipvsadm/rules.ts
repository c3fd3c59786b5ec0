/**
 * Which options each ipvsadm command takes, and the checks ipvsadm makes before acting
 * (its `generic_opt_check` over the `commands_v_options` table). The option and command names
 * in the messages are ipvsadm's own (`optnames`, `cmdnames`), so is the order in which options
 * are checked, which decides the message when several are wrong.
 *
 * @module
 */

/** Option groups as ipvsadm names them in messages, in ipvsadm's checking order. */
export const OPTION_NAMES = [
  "numeric",
  "connection",
  "service-address",
  "scheduler",
  "persistent",
  "netmask",
  "real-server",
  "forwarding-method",
  "weight",
  "timeout",
  "stats",
  "rate",
  "persistent-conn",
  "nosort",
  "exact",
  "local-address",
  "sched-flags",
  "u-threshold",
  "l-threshold",
  "thresholds",
  "ops",
  "vsestablish-timeout",
  "mcast-interface",
  "daemon",
  "syncid",
  "sync-maxlen",
  "mcast-group",
  "mcast-port",
  "mcast-ttl",
  "tun-info",
  "tun-type",
  "tun-port",
  "tun-nocsum",
  "tun-csum",
  "tun-remcsum",
  "source-rate",
  "source-sessions",
  "synproxy",
] as const;

/** One option group. */
export type OptionName = typeof OPTION_NAMES[number];

/** ipvsadm's command names (`cmdnames`), used in messages. `-C` is called "flush" there. */
export type CommandName =
  | "add-service"
  | "edit-service"
  | "delete-service"
  | "flush"
  | "list"
  | "add-server"
  | "delete-server"
  | "edit-server"
  | "set"
  | "zero"
  | "add-laddr"
  | "del-laddr"
  | "get-laddr"
  | "restore"
  | "save"
  | "start-daemon"
  | "stop-daemon";

/** `+` required, `x` illegal, `1` at most one of the `1`s, ` ` optional. */
type Rule = "+" | "x" | "1" | " ";

// Columns follow OPTION_NAMES: -n -c svc -s -p -M -r fwd -w timeout stats rate persistent-conn
// nosort exact laddr sched-flags -x -y thresholds -o -V, then the sync daemon's mcast-interface
// daemon syncid sync-maxlen mcast-group mcast-port mcast-ttl, then the tunnel options tun-info
// tun-type tun-port tun-nocsum tun-csum tun-remcsum, then fullnat's own source-rate
// source-sessions, then Alibaba's synproxy (-j). Rows are the FULLNAT ipvsadm's table restricted to the options fullnat
// implements, with mainline ipvsadm's sched-flags, sync and tunnel (1.31) columns, Alibaba's
// later -V column, fullnat's per-source limits and Alibaba's -j (service commands only).
const TABLE: Record<CommandName, string> = {
  "add-service": "xx+   xxxxxxxxxx xxx  xxxxxxxxxxxxx   ",
  "edit-service": "xx+   xxxxxxxxxx xxx  xxxxxxxxxxxxx   ",
  "delete-service": "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "flush": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "list": " 11xxxxxx1     xxxx xxx1xxxxx xxxxxxxx",
  "add-server": "xx+xxx+  xxxxxxxx  xxxxxxxxxxx     xxx",
  "delete-server": "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "edit-server": "xx+xxx+  xxxxxxxx  xxxxxxxxxxx     xxx",
  "set": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "zero": "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "add-laddr": "xx+xxxxxxxxxxxx+xxxxxxxxxxxxxxxxxxxxxx",
  "del-laddr": "xx+xxxxxxxxxxxx+xxxxxxxxxxxxxxxxxxxxxx",
  "get-laddr": "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "restore": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "save": " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "start-daemon": "xxxxxxxxxxxxxxxxxxxxxx+x     xxxxxxxxx",
  "stop-daemon": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
};

/**
 * Checks the options given against the command, in ipvsadm's order, and returns ipvsadm's
 * message for the first violation, or undefined when the combination is legal.
 */
export function checkOptions(
  command: CommandName,
  given: ReadonlySet<OptionName>,
): string | undefined {
  return checkRow(OPTION_NAMES, TABLE[command], given, {
    missing: (name) => `You need to supply the '${name}' option for the '${command}' command`,
    illegal: (name) => `Illegal '${name}' option with the '${command}' command`,
    conflict: (name, first) =>
      `The option '${name}' conflicts with '${first}' option in the '${command}' command`,
  });
}

/** The messages of a rule row's violations (ipvsadm words them a little differently per table). */
export interface RowMessages {
  missing(name: OptionName): string;
  illegal(name: OptionName): string;
  conflict(name: OptionName, first: OptionName): string;
}

/**
 * Checks the options `given` against one row of a rule table whose columns are `names`
 * (`+` required, `x` illegal, `1` at most one of the `1`s), in column order, as ipvsadm's
 * `generic_opt_check` and `tunnel_opt_check` do; returns the first violation's message.
 */
export function checkRow(
  names: readonly OptionName[],
  row: string,
  given: ReadonlySet<OptionName>,
  messages: RowMessages,
): string | undefined {
  let firstExclusive: OptionName | undefined;
  for (let j = 0; j < names.length; j++) {
    const name = names[j];
    const rule = row[j] as Rule;
    if (!given.has(name)) {
      if (rule === "+") return messages.missing(name);
      continue;
    }
    if (rule === "x") return messages.illegal(name);
    if (rule === "1") {
      if (firstExclusive === undefined) {
        firstExclusive = name;
        continue;
      }
      return messages.conflict(name, firstExclusive);
    }
  }
  return undefined;
}
