/**
 * `laddr list|add|delete`: the local addresses a FULLNAT service uses toward its real servers
 * (the seed's `ADDLADDR`, `DELLADDR`, `GET_LADDRS`).
 *
 * @module
 */
import type { Command } from "commander";
import {
  action,
  addressArgument,
  jsonOption,
  leaf,
  printJson,
  requiredServiceKey,
  serviceArguments,
} from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { parseAddress } from "../values.ts";
import { localAddressesTable } from "../views.ts";
import { perServiceRows, selectedServices } from "./service.ts";

/** Adds `laddr` and its verbs. */
export function addLocalAddressCommands(ctx: CommandContext, root: Command): void {
  const laddr = root.command("laddr").description(
    "local addresses a service uses as source toward real servers",
  );

  jsonOption(
    serviceArguments(
      leaf(ctx, laddr, "list", "list local addresses (of one service, or all)"),
      true,
    ),
  ).alias("ls").action(action(ctx, async ({ args, opts, control }) => {
    const services = await selectedServices(args, await control());
    if (opts.json) printJson(ctx, perServiceRows(services, (s) => s.localAddresses));
    else ctx.io.out(localAddressesTable(services));
  }));

  addressArgument(
    serviceArguments(leaf(ctx, laddr, "add", "add a local address to a service")),
    "ip",
    "an address assigned to this box on the real servers' network",
    parseAddress,
    false,
  ).addHelpText("after", "\nExample:\n  laddr add tcp 192.0.2.10:80 10.0.1.201")
    .action(action(ctx, async ({ args, control }) => {
      await (await control()).addLocalAddress(requiredServiceKey(args), args[2] as string);
      ctx.changed();
    }));

  addressArgument(
    serviceArguments(
      leaf(ctx, laddr, "delete", "stop using a local address (its connections finish first)"),
    ),
    "ip",
    "the local address",
    parseAddress,
    true,
  ).alias("del").action(action(ctx, async ({ args, control }) => {
    await (await control()).deleteLocalAddress(requiredServiceKey(args), args[2] as string);
    ctx.changed();
  }));
}
