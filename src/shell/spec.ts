/**
 * A plain description of the command tree (names, options, arguments) taken from commander's
 * objects, so completion is a pure function over data that tests can write by hand.
 *
 * @module
 */
import type { Command } from "commander";
import { ARGUMENT_KINDS, type NameKind } from "./command_kit.ts";

/** An option as completion sees it. */
export interface OptionSpec {
  /** Every spelling: `-s`, `--scheduler`. */
  flags: string[];
  /** True when the next word is the option's value. */
  takesValue: boolean;
  /** Values offered for it. */
  choices?: string[];
}

/** A positional argument as completion sees it. */
export interface ArgSpec {
  kind?: NameKind;
  choices?: string[];
  variadic?: boolean;
}

/** A command as completion sees it. */
export interface CommandSpec {
  name: string;
  aliases?: string[];
  options: OptionSpec[];
  args: ArgSpec[];
  subcommands: CommandSpec[];
}

/** Describes `cmd` and everything under it; `--help` is added to every command. */
export function describeTree(cmd: Command): CommandSpec {
  const options: OptionSpec[] = cmd.options.filter((o) => !o.hidden).map((o) => ({
    flags: [o.short, o.long].filter((f): f is string => typeof f === "string"),
    takesValue: o.required || o.optional,
    ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
  }));
  options.push({ flags: ["--help"], takesValue: false });
  const args: ArgSpec[] = cmd.registeredArguments.map((a) => {
    const kind = ARGUMENT_KINDS.get(a);
    return {
      ...(kind ? { kind } : {}),
      ...(a.argChoices ? { choices: [...a.argChoices] } : {}),
      ...(a.variadic ? { variadic: true } : {}),
    };
  });
  return {
    name: cmd.name(),
    aliases: cmd.aliases(),
    options,
    args,
    subcommands: cmd.commands.map(describeTree),
  };
}
