/**
 * `interface list|show|set|address add|address delete`: the box's own interfaces as the
 * configuration has them (the document's `network.interfaces`). Every change goes through the
 * daemon, which validates it, applies it all or nothing and saves it, so it is there again
 * after a reboot; `show interfaces` gives the kernel's live view.
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { addAddress, deleteAddress, parseCidr, setInterface } from "../network_edit.ts";
import { configuredInterfacesTable, editNetwork, fetchNetwork } from "../network_views.ts";
import { parseCount } from "../values.ts";
import { renderPairs } from "../table.ts";

/** An interface name as Linux takes it. */
export function parseInterfaceName(text: string): string {
  if (text === "" || text.length > 15 || /[\s/:]/.test(text)) {
    throw new UsageError(
      `'${text}' is not an interface name (1-15 characters, no spaces, '/' or ':')`,
    );
  }
  return text;
}

function parseMtu(text: string): number {
  const n = parseCount(text);
  if (n < 68 || n > 65535) throw new UsageError(`MTU ${n} is out of range: give 68 to 65535`);
  return n;
}

/** Adds `interface`. */
export function addInterfaceCommands(ctx: CommandContext, root: Command): void {
  const iface = root.command("interface").description(
    "the box's interfaces as configured (addresses, MTU, link); kept across reboots",
  );

  jsonOption(leaf(ctx, iface, "list", "list the configured interfaces")).alias("ls").action(
    action(ctx, async ({ opts, control }) => {
      const c = await control();
      const section = await fetchNetwork(c);
      if (opts.json) return printJson(ctx, section.interfaces ?? {});
      const status = await c.call("networkStatus") as { managed: boolean; problem?: string };
      ctx.io.out(configuredInterfacesTable(section));
      if (!status.managed) {
        ctx.io.out(
          "note: this daemon does not manage the host network (--manage-host-network): the " +
            "configuration is kept, not applied",
        );
      }
      if (status.problem) ctx.io.out(`last problem: ${status.problem}`);
    }),
  );

  jsonOption(leaf(ctx, iface, "show", "one interface: configured and live"))
    .argument("<name>", "interface name, e.g. eth0", parseInterfaceName)
    .action(action(ctx, async ({ args, opts, control }) => {
      const name = args[0] as string;
      const c = await control();
      const section = await fetchNetwork(c);
      const configured = section.interfaces?.[name];
      const live = (await c.call("networkLive", "interfaces") as Record<string, unknown>[])
        .find((l) => l.ifname === name);
      if (configured === undefined && live === undefined) {
        throw new UsageError(`this box has no interface ${name} (see: show interfaces)`);
      }
      if (opts.json) {
        return printJson(ctx, { name, configured: configured ?? null, live: live ?? null });
      }
      const liveAddrs = ((live?.addr_info ?? []) as Record<string, unknown>[])
        .map((a) => `${a.local}/${a.prefixlen}`);
      ctx.io.out(renderPairs([
        ["interface", name],
        ["role", name === (section.management ?? "eth0") ? "management" : "data"],
        ["configured addresses", (configured?.addresses ?? []).join(", ") || "none"],
        ["configured MTU", configured?.mtu ?? "not set"],
        [
          "configured link",
          configured === undefined ? "not configured" : configured.up === false ? "down" : "up",
        ],
        ["live state", String(live?.operstate ?? "absent")],
        ["live MTU", Number(live?.mtu ?? 0)],
        ["live addresses", liveAddrs.join(", ") || "none"],
      ]));
    }));

  leaf(ctx, iface, "set", "set an interface's MTU or link state")
    .argument("<name>", "interface name", parseInterfaceName)
    .option("--mtu <bytes>", "link MTU, 68-65535", parseMtu)
    .option("--up", "bring the link up (the default)")
    .option("--down", "take the link down")
    .addHelpText("after", "\nExample:\n  interface set eth1 --mtu 9000")
    .action(action(ctx, ({ args, opts, control }) => {
      if (opts.up && opts.down) throw new UsageError("give --up or --down, not both");
      const up = opts.up ? true : opts.down ? false : undefined;
      return editNetwork(
        ctx,
        control,
        (s) => setInterface(s, args[0] as string, { mtu: opts.mtu as number | undefined, up }),
      );
    }));

  const address = iface.command("address").description("the addresses of an interface");
  leaf(ctx, address, "add", "add an address with its prefix length to an interface")
    .argument("<name>", "interface name", parseInterfaceName)
    .argument("<address/len>", "e.g. 203.0.113.1/24", parseCidr)
    .addHelpText("after", "\nExample:\n  interface address add eth1 203.0.113.1/24")
    .action(
      action(
        ctx,
        ({ args, control }) =>
          editNetwork(ctx, control, (s) => addAddress(s, args[0] as string, args[1] as string)),
      ),
    );
  leaf(ctx, address, "delete", "take an address off an interface")
    .alias("del")
    .argument("<name>", "interface name", parseInterfaceName)
    .argument("<address/len>", "the address (its prefix length may be left out)")
    .action(
      action(
        ctx,
        ({ args, control }) =>
          editNetwork(ctx, control, (s) => deleteAddress(s, args[0] as string, args[1] as string)),
      ),
    );
}
