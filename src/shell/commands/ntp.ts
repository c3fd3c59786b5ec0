/**
 * `ntp show|set`: the box's time servers (the document's `network.ntp`), changed through the
 * daemon and written for systemd-timesyncd.
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { setNtp } from "../network_edit.ts";
import { editNetwork, fetchNetwork } from "../network_views.ts";

/** Adds `ntp`. */
export function addNtpCommands(ctx: CommandContext, root: Command): void {
  const ntp = root.command("ntp").description("the box's time servers");
  jsonOption(leaf(ctx, ntp, "show", "the configured time servers")).action(
    action(ctx, async ({ opts, control }) => {
      const section = await fetchNetwork(await control());
      if (opts.json) return printJson(ctx, section.ntp ?? null);
      ctx.io.out(section.ntp?.servers.join("\n") || "no time server is configured");
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
