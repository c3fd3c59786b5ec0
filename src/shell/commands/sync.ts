/**
 * `sync start|stop|show`: the daemon's session sync daemons (what `ipvsadm --start-daemon`,
 * `--stop-daemon` and `-L --daemon` do), with ipvsadm's option names and the kernel's defaults,
 * and their counters. A daemon started or stopped here is a configuration change: it is saved
 * and appears in `config export`'s `sync` section.
 *
 * @module
 */
import { Argument, type Command } from "commander";
import type { SyncDaemonView } from "../../daemon/sync_daemon.ts";
import { SYNC_DEFAULTS, type SyncDaemonSpec, syncSpecProblem } from "../../sync/sync_config.ts";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { parseAddress, parseCount } from "../values.ts";

const ROLES = ["master", "backup"];

/** `reason 3, other 1`, or `none`. */
const counts = (r: Record<string, number>) =>
  Object.entries(r).map(([k, n]) => `${k} ${n}`).join(", ") || "none";

/** ipvsadm's line for each daemon, then its counters indented. */
export function formatSyncViews(views: readonly SyncDaemonView[]): string {
  if (views.length === 0) return "no sync daemon runs";
  return views.map((v) => {
    const lines = [v.line + (v.signed ? ", signed" : "")];
    if (v.master) {
      const m = v.master;
      lines.push(
        `  sent ${m.messages} message(s), ${m.entries} entr${m.entries === 1 ? "y" : "ies"}, ` +
          `${m.bytes} bytes; send errors ${m.sendErrors}, scan errors ${m.scanErrors}`,
      );
    }
    if (v.backup) {
      const b = v.backup;
      lines.push(
        `  received ${b.messages} message(s), ${b.bytes} bytes; refused: ${counts(b.refused)}`,
        `  entries: ${counts(b.entries)}`,
      );
    }
    return lines.join("\n");
  }).join("\n");
}

/** Adds `sync`. */
export function addSyncCommands(ctx: CommandContext, root: Command): void {
  const sync = root.command("sync").description(
    "session sync daemons of an HA pair (ipvsadm --start-daemon/--stop-daemon)",
  );
  jsonOption(leaf(ctx, sync, "show", "the running sync daemons and their counters")).action(
    action(ctx, async ({ opts, control }) => {
      const views = await (await control()).call("syncList") as SyncDaemonView[];
      if (opts.json) printJson(ctx, views);
      else ctx.io.out(formatSyncViews(views));
    }),
  );
  leaf(ctx, sync, "start", "start the master or backup sync daemon")
    .addArgument(new Argument("<role>", "master or backup").choices(ROLES))
    .requiredOption(
      "--mcast-interface <if>",
      "interface the messages go out of (master) or are read on (backup)",
    )
    .option("--syncid <n>", "0-255; a backup with 0 takes every syncid (default 0)", parseCount)
    .option(
      "--sync-maxlen <n>",
      "largest message, bytes of UDP payload (default from MTU)",
      parseCount,
    )
    .option(
      "--mcast-group <addr>",
      `multicast group, or the peer's (master) / own (backup) unicast address (default ${SYNC_DEFAULTS.group})`,
      parseAddress,
    )
    .option("--mcast-port <n>", `UDP port (default ${SYNC_DEFAULTS.port})`, parseCount)
    .option("--mcast-ttl <n>", `multicast TTL (default ${SYNC_DEFAULTS.ttl})`, parseCount)
    .addHelpText(
      "after",
      "\nExamples:\n  sync start master --mcast-interface eth2 --syncid 5\n" +
        "  sync start backup --mcast-interface eth2 --syncid 5 --mcast-group 192.0.2.2",
    )
    .action(action(ctx, async ({ args, opts, control }) => {
      const spec: SyncDaemonSpec = {
        role: args[0] as SyncDaemonSpec["role"],
        mcastInterface: opts.mcastInterface as string,
        syncid: (opts.syncid as number | undefined) ?? SYNC_DEFAULTS.syncid,
        maxlen: (opts.syncMaxlen as number | undefined) ?? SYNC_DEFAULTS.maxlen,
        group: (opts.mcastGroup as string | undefined) ?? SYNC_DEFAULTS.group,
        port: (opts.mcastPort as number | undefined) ?? SYNC_DEFAULTS.port,
        ttl: (opts.mcastTtl as number | undefined) ?? SYNC_DEFAULTS.ttl,
      };
      const problem = syncSpecProblem(spec);
      if (problem !== undefined) throw new UsageError(problem);
      await (await control()).call("syncStart", spec);
      ctx.changed();
    }));
  leaf(ctx, sync, "stop", "stop the master or backup sync daemon")
    .addArgument(new Argument("<role>", "master or backup").choices(ROLES))
    .action(action(ctx, async ({ args, control }) => {
      await (await control()).call("syncStop", args[0]);
      ctx.changed();
    }));
}
