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
  "source-rate",
  "source-sessions",
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
  | "save";

/** `+` required, `x` illegal, `1` at most one of the `1`s, ` ` optional. */
type Rule = "+" | "x" | "1" | " ";

// Columns follow OPTION_NAMES: -n -c svc -s -p -M -r fwd -w timeout stats rate persistent-conn
// nosort exact laddr sched-flags -x -y thresholds -o -V source-rate source-sessions. Rows are
// the FULLNAT ipvsadm's table restricted to the options fullnat implements, with mainline
// ipvsadm's sched-flags column, Alibaba's later -V column and fullnat's own per-source limits
// (service commands only).
const TABLE: Record<CommandName, string> = {
  "add-service": "xx+   xxxxxxxxxx xxx    ",
  "edit-service": "xx+   xxxxxxxxxx xxx    ",
  "delete-service": "xx+xxxxxxxxxxxxxxxxxxxxx",
  "flush": "xxxxxxxxxxxxxxxxxxxxxxxx",
  "list": " 11xxxxxx1     xxxx xxxx",
  "add-server": "xx+xxx+  xxxxxxxx  xxxxx",
  "delete-server": "xx+xxx+xxxxxxxxxxxxxxxxx",
  "edit-server": "xx+xxx+  xxxxxxxx  xxxxx",
  "set": "xxxxxxxxxxxxxxxxxxxxxxxx",
  "zero": "xx xxxxxxxxxxxxxxxxxxxxx",
  "add-laddr": "xx+xxxxxxxxxxxx+xxxxxxxx",
  "del-laddr": "xx+xxxxxxxxxxxx+xxxxxxxx",
  "get-laddr": "xx xxxxxxxxxxxxxxxxxxxxx",
  "restore": "xxxxxxxxxxxxxxxxxxxxxxxx",
  "save": " xxxxxxxxxxxxxxxxxxxxxxx",
};

/**
 * Checks the options given against the command, in ipvsadm's order, and returns ipvsadm's
 * message for the first violation, or undefined when the combination is legal.
 */
export function checkOptions(
  command: CommandName,
  given: ReadonlySet<OptionName>,
): string | undefined {
  const row = TABLE[command];
  let firstExclusive: OptionName | undefined;
  for (let j = 0; j < OPTION_NAMES.length; j++) {
    const name = OPTION_NAMES[j];
    const rule = row[j] as Rule;
    if (!given.has(name)) {
      if (rule === "+") {
        return `You need to supply the '${name}' option for the '${command}' command`;
      }
      continue;
    }
    if (rule === "x") return `Illegal '${name}' option with the '${command}' command`;
    if (rule === "1") {
      if (firstExclusive === undefined) {
        firstExclusive = name;
        continue;
      }
      return `The option '${name}' conflicts with '${firstExclusive}' option in the '${command}' command`;
    }
  }
  return undefined;
}
