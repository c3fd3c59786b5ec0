/**
 * `conn list`: the session table, optionally narrowed to one service or one client.
 *
 * @module
 */
import type { Command } from "commander";
import type { ConnectionView, Endpoint, Protocol } from "../../fullnat/types.ts";
import { action, type ActionInput, jsonOption, leaf, protocolOption } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { connectionPages } from "../../ctl/remote.ts";
import { parseAddressFilter } from "../values.ts";
import { connectionsTable } from "../views.ts";

/** Which connections to show. */
export interface ConnectionFilter {
  protocol?: Protocol;
  /** Virtual address, and port if given. */
  service?: { address: string; port?: number };
  /** Client address, and port if given. */
  client?: { address: string; port?: number };
}

const matches = (e: Endpoint, f: { address: string; port?: number } | undefined) =>
  f === undefined || (e.address === f.address && (f.port === undefined || e.port === f.port));

/** The connections that pass every given filter. */
export function filterConnections(
  conns: readonly ConnectionView[],
  f: ConnectionFilter,
): ConnectionView[] {
  return conns.filter((c) =>
    (f.protocol === undefined || c.protocol === f.protocol) && matches(c.virtual, f.service) &&
    matches(c.client, f.client)
  );
}

/** Lists connections for `conn list` and `show connections`. */
export async function listConnections(
  ctx: CommandContext,
  control: ActionInput["control"],
  opts: Record<string, unknown>,
): Promise<void> {
  const filter: ConnectionFilter = {
    protocol: opts.protocol as Protocol | undefined,
    service: opts.service as ConnectionFilter["service"],
    client: opts.client as ConnectionFilter["client"],
  };
  // Filtered page by page as the listing streams in: only what is shown is kept.
  const conns: ConnectionView[] = [];
  for await (const page of connectionPages(await control())) {
    for (const c of filterConnections(page, filter)) conns.push(c);
  }
  ctx.io.out(opts.json ? JSON.stringify(conns, null, 2) : connectionsTable(conns));
}

/** Adds the filter options of a connection listing. */
export function connectionFilterOptions(cmd: Command): Command {
  return jsonOption(
    cmd.option(
      "--service <vip[:port]>",
      "only connections to this virtual address",
      parseAddressFilter,
    )
      .option("--client <ip[:port]>", "only connections from this client", parseAddressFilter)
      .addOption(protocolOption("--protocol <protocol>", "only tcp or only udp")),
  );
}

/** Adds `conn list`. */
export function addConnectionCommands(ctx: CommandContext, root: Command): void {
  const conn = root.command("conn").description("connections (the session table)");
  connectionFilterOptions(leaf(ctx, conn, "list", "list connections")).alias("ls")
    .addHelpText("after", "\nExample:\n  conn list --service 192.0.2.10:80 --client 198.51.100.7")
    .action(action(ctx, ({ opts, control }) => listConnections(ctx, control, opts)));
}
