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
import { IncompleteListingError } from "../errors.ts";
import { TableLayout } from "../table.ts";
import { CONNECTION_COLUMNS, connectionCells, NO_CONNECTIONS } from "../views.ts";

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
  // Filtered and printed page by page as the listing streams in: nothing holds it all.
  const sink = opts.json ? jsonRows(ctx) : tableRows(ctx);
  let printed = 0;
  try {
    for await (const page of connectionPages(await control())) {
      const shown = filterConnections(page, filter);
      if (shown.length === 0) continue;
      sink.rows(shown);
      printed += shown.length;
    }
  } catch (e) {
    if (printed === 0) throw e;
    throw new IncompleteListingError(printed, e);
  }
  sink.end();
}

/** Where the rows of a streamed listing go as they arrive. */
interface RowSink {
  rows(conns: readonly ConnectionView[]): void;
  end(): void;
}

/**
 * One JSON array, written as the rows come: the same text as `JSON.stringify(all, null, 2)`,
 * each row's closing line held back until it is known whether another row follows.
 */
function jsonRows(ctx: CommandContext): RowSink {
  let held: string | undefined;
  const item = (c: ConnectionView) => JSON.stringify(c, null, 2).replace(/^/gm, "  ");
  return {
    rows(conns) {
      const items = conns.map(item);
      const ready = held === undefined ? ["[", ...items.slice(0, -1).map((i) => `${i},`)] : [
        `${held},`,
        ...items.slice(0, -1).map((i) => `${i},`),
      ];
      ctx.io.out(ready.join("\n"));
      held = items[items.length - 1];
    },
    end() {
      ctx.io.out(held === undefined ? "[]" : `${held}\n]`);
    },
  };
}

/** The session table, its column widths taken from the first page (see `TableLayout`). */
function tableRows(ctx: CommandContext): RowSink {
  let layout: TableLayout | undefined;
  return {
    rows(conns) {
      const cells = conns.map(connectionCells);
      if (layout === undefined) {
        layout = new TableLayout(CONNECTION_COLUMNS, cells);
        ctx.io.out(`${layout.header()}\n${layout.lines(cells)}`);
      } else ctx.io.out(layout.lines(cells));
    },
    end() {
      if (layout === undefined) ctx.io.out(NO_CONNECTIONS);
    },
  };
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
