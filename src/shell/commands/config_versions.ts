/**
 * `config history|show|rollback|confirm`: the versions the daemon keeps of its configuration
 * (src/persist/versions.ts), going back to one, and confirming a change applied with
 * `config apply FILE --confirm-within SECONDS`, which the daemon rolls back by itself unless
 * confirmed in time.
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional } from "../errors.ts";
import { renderTable } from "../table.ts";
import { wholeNumberParser } from "../values.ts";
import type { HistoryView, PendingView } from "../../persist/versions.ts";
import { MAX_CONFIRM_SECONDS } from "../../persist/versions.ts";

/** `--confirm-within SECONDS` of `config apply`. */
export const parseConfirmSeconds = wholeNumberParser(
  "number of seconds to wait for 'config confirm'",
  1,
  MAX_CONFIRM_SECONDS,
);

const parseVersion = wholeNumberParser("configuration version (see config history)", 1, 2 ** 53);

/** One line on a change that waits for `config confirm`. */
export function pendingLine(p: PendingView): string {
  const to = p.previousId === null ? "the configuration before it" : `version ${p.previousId}`;
  return `version ${p.appliedId ?? "?"} waits for 'config confirm' until ${p.deadline} ` +
    `(${p.secondsLeft} s left); otherwise the daemon rolls back to ${to}`;
}

function historyTable(h: HistoryView): string {
  const rows = h.versions.map((v) => [
    `${v.id}${v.id === h.current ? " *" : ""}`,
    v.savedAt,
    v.reason,
  ]);
  const table = rows.length === 0
    ? "no configuration version is stored yet"
    : renderTable([{ title: "VERSION" }, { title: "SAVED (UTC)" }, { title: "REASON" }], rows);
  return h.pending === null ? table : `${table}\n${pendingLine(h.pending)}`;
}

function changesText(changes: unknown): string[] {
  return Array.isArray(changes) ? changes.map((c) => `  ${String(c)}`) : [];
}

/** Adds the verbs to `config`. */
export function addVersionCommands(ctx: CommandContext, config: Command): void {
  jsonOption(
    leaf(ctx, config, "history", "list the stored versions (newest first; * is the running one)"),
  ).action(action(ctx, async ({ opts, control }) => {
    const c = await control();
    const h = await callOptional(
      c.call.bind(c),
      "'config history'",
      "configHistory",
    ) as HistoryView;
    if (opts.json) printJson(ctx, h);
    else ctx.io.out(historyTable(h));
  }));

  leaf(ctx, config, "show", "print stored version N as a configuration file")
    .argument("<version>", "version number from config history", parseVersion)
    .action(action(ctx, async ({ args, control }) => {
      const c = await control();
      const v = await callOptional(c.call.bind(c), "'config show'", "configShow", args[0]) as {
        text: string;
      };
      ctx.io.out(v.text.replace(/\n$/, ""));
    }));

  leaf(ctx, config, "rollback", "make version N the running configuration again (a new version)")
    .argument("<version>", "version number from config history", parseVersion)
    .action(action(ctx, async ({ args, control }) => {
      const c = await control();
      const r = await callOptional(
        c.call.bind(c),
        "'config rollback'",
        "configRollback",
        args[0],
      ) as { changes: unknown[] };
      const lines = changesText(r.changes);
      if (lines.length === 0) {
        ctx.io.out(`the running configuration is version ${args[0]} already; nothing to change`);
        return;
      }
      ctx.io.out([`rolled back to version ${args[0]}:`, ...lines].join("\n"));
      ctx.changed();
    }));

  leaf(ctx, config, "confirm", "keep the change applied with --confirm-within")
    .action(action(ctx, async ({ control }) => {
      const c = await control();
      const r = await callOptional(c.call.bind(c), "'config confirm'", "configConfirm") as {
        confirmed: number | null;
      };
      ctx.io.out(
        `confirmed${r.confirmed === null ? "" : ` version ${r.confirmed}`}: it stays`,
      );
    }));
}
