/**
 * `dns show|set`: the box's name servers and search domains (the document's `network.dns`),
 * changed through the daemon and written for systemd-resolved; `show` also prints what
 * systemd-resolved has in effect (read by the daemon: hostnet/in_effect.ts).
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { setDns } from "../network_edit.ts";
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
import type { DnsInEffect, NotInEffect } from "../../hostnet/in_effect.ts";

const collect = (v: string, all: string[]) => [...all, v];

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");

/** `dns show`'s text: the stored settings, then resolved's (or why there are none). */
export function dnsShowText(
  dns: NetworkText["dns"],
  live: DnsInEffect | NotInEffect | InEffectUnknown,
  problem?: string,
): string {
  const servers = dns?.servers ?? [];
  const search = dns?.search ?? [];
  const pairs: [string, string][] = [
    ["servers", servers.join(", ") || "not configured"],
    ["search", search.join(", ") || "none"],
  ];
  if (live.running !== true) return `${renderPairs(pairs)}\n${notInEffectLine(live)}`;
  pairs.push(
    ["servers in effect", live.servers.join(", ") || "none"],
    ["search in effect", live.search.join(", ") || "none"],
  );
  const lines = [renderPairs(pairs)];
  if (!sameSet(servers, live.servers) || !sameSet(search, live.search)) {
    lines.push(
      `note: systemd-resolved has other settings than the stored ones` +
        (problem === undefined ? " (show log says why)" : `; last problem: ${problem}`),
    );
  }
  return lines.join("\n");
}

/** Adds `dns`. */
export function addDnsCommands(ctx: CommandContext, root: Command): void {
  const dns = root.command("dns").description("the box's name servers and search domains");
  jsonOption(
    leaf(ctx, dns, "show", "the configured name servers and search domains, and those in effect"),
  ).action(
    action(ctx, async ({ opts, control }) => {
      const c = await control();
      const section = await fetchNetwork(c);
      const inEffect = await fetchInEffect(c, "dns");
      if (opts.json) return printJson(ctx, { configured: section.dns ?? null, inEffect });
      ctx.io.out(dnsShowText(section.dns, inEffect, await networkProblem(c)));
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
