/**
 * `system show` and `system upgrade -`: the appliance's A/B root slots (README "Appliance
 * image", "Upgrade"). `show` reads the slot records; `upgrade` streams a bundle made by
 * image/build.sh (`fullnat-upgrade.img`) from standard input to the root-owned receiver, which
 * writes the inactive slot, checks its sha256 and reboots into it once; the new system becomes
 * the default only when its daemon answers with the configuration restored.
 *
 * @module
 */
import type { Command } from "commander";
import { formatSystemView, readSystemView } from "../../system/slots.ts";
import { streamUpgrade } from "../../system/upgrade_client.ts";
import { action, jsonOption, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";

const HOW =
  "stream the bundle on standard input: ssh admin@BOX 'system upgrade -' < fullnat-upgrade.img";

/** Adds `system`. */
export function addSystemCommands(ctx: CommandContext, root: Command): void {
  const system = root.command("system").description(
    "the appliance's root slots: show them, upgrade into the inactive one",
  );
  jsonOption(
    system.command("show").description("root slots: versions, which runs, which boots by default"),
  ).action(action(ctx, async ({ opts }) => {
    const view = await readSystemView();
    if (opts.json) printJson(ctx, view);
    else ctx.io.out(formatSystemView(view));
  }));
  system.command("boot-time").description(
    "where the last boot's time went: systemd-analyze time, the chain to sshd, the slowest units",
  ).action(action(ctx, async () => {
    for (
      const args of [
        ["time"],
        ["critical-chain", "ssh.service"],
        ["blame", "--no-pager"],
      ]
    ) {
      const r = await new Deno.Command("systemd-analyze", {
        args,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      const dec = new TextDecoder();
      if (!r.success) throw new Error(`systemd-analyze ${args[0]}: ${dec.decode(r.stderr).trim()}`);
      const lines = dec.decode(r.stdout).trimEnd().split("\n");
      ctx.io.out((args[0] === "blame" ? lines.slice(0, 15) : lines).join("\n"));
    }
  }));
  system.command("upgrade").description(
    `install an upgrade bundle into the inactive slot and reboot into it once (${HOW})`,
  ).argument("<file>", "- (the bundle on standard input)").action(
    action(ctx, async ({ args }) => {
      if (args[0] !== "-") throw new UsageError(`'${args[0]}': ${HOW}`);
      if (Deno.stdin.isTerminal()) {
        throw new UsageError(`standard input is a terminal; ${HOW}`);
      }
      const outcome = await streamUpgrade(Deno.stdin.readable, (l) => ctx.io.out(l));
      if (!outcome.ok) {
        throw new Error(`the upgrade was not installed (${outcome.bytesSent} bytes sent)`);
      }
    }),
  );
}
