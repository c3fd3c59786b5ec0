/**
 * `dns show|set`: the box's name servers and search domains (the document's `network.dns`),
 * changed through the daemon and written for systemd-resolved.
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { setDns } from "../network_edit.ts";
import { editNetwork, fetchNetwork } from "../network_views.ts";
import { renderPairs } from "../table.ts";

const collect = (v: string, all: string[]) => [...all, v];

/** Adds `dns`. */
export function addDnsCommands(ctx: CommandContext, root: Command): void {
  const dns = root.command("dns").description("the box's name servers and search domains");
  jsonOption(leaf(ctx, dns, "show", "the configured name servers and search domains")).action(
    action(ctx, async ({ opts, control }) => {
      const section = await fetchNetwork(await control());
      if (opts.json) return printJson(ctx, section.dns ?? null);
      ctx.io.out(renderPairs([
        ["servers", section.dns?.servers.join(", ") || "not configured"],
        ["search", section.dns?.search?.join(", ") || "none"],
      ]));
    }),
  );
  leaf(ctx, dns, "set", "set the name servers (up to 3) and search domains; none clears them")
    .argument("[servers...]", "name server addresses")
    .option("--search <domain>", "a search domain (repeat for more)", collect, [] as string[])
    .addHelpText("after", "\nExample:\n  dns set 192.0.2.53 192.0.2.54 --search example.net")
    .action(action(ctx, ({ args, opts, control }) =>
      editNetwork(
        ctx,
        control,
        (s) => setDns(s, (args[0] ?? []) as string[], opts.search as string[]),
      )));
}
