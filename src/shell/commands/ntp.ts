/**
 * `ntp show|set`: the box's time servers (the document's `network.ntp`), changed through the
 * daemon and written for systemd-timesyncd; `show` also prints what systemd-timesyncd has in
 * effect, the server it uses and whether the clock is synchronized (read by the daemon:
 * hostnet/in_effect.ts).
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { setNtp } from "../network_edit.ts";
import type { NetworkText } from "../network_edit.ts";
import {
  editNetwork,
  fetchInEffect,
  fetchNetwork,
  type InEffectUnknown,
  networkProblem,
  notInEffectLine,
} from "../network_views.ts";
import { renderPairs } from "../table.ts";
import type { NotInEffect, NtpInEffect } from "../../hostnet/in_effect.ts";

/** `ntp show`'s text: the stored servers, then timesyncd's (or why there are none). */
export function ntpShowText(
  ntp: NetworkText["ntp"],
  live: NtpInEffect | NotInEffect | InEffectUnknown,
  problem?: string,
): string {
  const servers = ntp?.servers ?? [];
  const pairs: [string, string][] = [["servers", servers.join(", ") || "not configured"]];
  if (live.running !== true) return `${renderPairs(pairs)}\n${notInEffectLine(live)}`;
  const inUse = live.serverName === null
    ? "none yet"
    : live.serverAddress === null || live.serverAddress === live.serverName
    ? live.serverName
    : `${live.serverName} (${live.serverAddress})`;
  pairs.push(
    [
      "servers in effect",
      live.servers.join(", ") ||
      (live.fallback.length > 0 ? `none: falls back to ${live.fallback.join(", ")}` : "none"),
    ],
    ["server in use", inUse],
    ["synchronized", live.synchronized === null ? "unknown" : live.synchronized ? "yes" : "no"],
  );
  const lines = [renderPairs(pairs)];
  if (servers.join(" ") !== live.servers.join(" ")) {
    lines.push(
      `note: systemd-timesyncd has other servers than the stored ones` +
        (problem === undefined ? " (show log says why)" : `; last problem: ${problem}`),
    );
  }
  return lines.join("\n");
}

/** Adds `ntp`. */
export function addNtpCommands(ctx: CommandContext, root: Command): void {
  const ntp = root.command("ntp").description("the box's time servers");
  jsonOption(
    leaf(ctx, ntp, "show", "the configured time servers, those in effect and the clock's state"),
  ).action(
    action(ctx, async ({ opts, control }) => {
      const c = await control();
      const section = await fetchNetwork(c);
      const inEffect = await fetchInEffect(c, "ntp");
      if (opts.json) return printJson(ctx, { configured: section.ntp ?? null, inEffect });
      ctx.io.out(ntpShowText(section.ntp, inEffect, await networkProblem(c)));
    }),
  );
  leaf(ctx, ntp, "set", "set the time servers (names or addresses); none clears them")
    .argument("[servers...]", "NTP servers")
    .addHelpText("after", "\nExample:\n  ntp set 0.debian.pool.ntp.org 192.0.2.123")
    .action(
      action(
        ctx,
        ({ args, control }) =>
          editNetwork(ctx, control, (s) => setNtp(s, (args[0] ?? []) as string[])),
      ),
    );
}
