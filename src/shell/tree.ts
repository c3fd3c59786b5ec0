/**
 * The admin command tree. One set of commands serves both `fullnat <noun> <verb>` (added to
 * main.ts's program) and the interactive shell (under a root of its own whose output goes to
 * the session and whose errors never exit the process).
 *
 * @module
 */
import { Command, Help } from "commander";
import { addCaptureCommands } from "./commands/capture.ts";
import { addConfigCommands } from "./commands/config.ts";
import { addConnectionCommands } from "./commands/conn.ts";
import { addDaemonCommands } from "./commands/daemon.ts";
import { addLocalAddressCommands } from "./commands/laddr.ts";
import { addPowerCommands } from "./commands/power.ts";
import { addProbeCommands } from "./commands/probe.ts";
import { addRealServerCommands } from "./commands/rs.ts";
import { addServiceCommands } from "./commands/service.ts";
import { addSessionCommands } from "./commands/session.ts";
import { addShowCommands } from "./commands/show.ts";
import { addStatsCommands } from "./commands/stats.ts";
import { addTimeoutCommands } from "./commands/timeout.ts";
import { addSyncCommands } from "./commands/sync.ts";
import { addSystemCommands } from "./commands/system.ts";
import { addTunableCommands } from "./commands/tunable.ts";
import { addInterfaceCommands } from "./commands/interface.ts";
import { addRouteCommands } from "./commands/route.ts";
import { addDnsCommands } from "./commands/dns.ts";
import { addNtpCommands } from "./commands/ntp.ts";
import type { CommandContext } from "./context.ts";

/**
 * Adds the nouns (`service`, `rs`, `laddr`, `conn`, `stats`, `timeout`, `tunable`, `sync`,
 * `interface`, `route`, `dns`, `ntp`, `config`, `show`) and the box's own commands (`ping`,
 * `traceroute`, `capture`, `reboot`, `shutdown`).
 */
export function addAdminCommands(root: Command, ctx: CommandContext): Command {
  addServiceCommands(ctx, root);
  addRealServerCommands(ctx, root);
  addLocalAddressCommands(ctx, root);
  addConnectionCommands(ctx, root);
  addStatsCommands(ctx, root);
  addTimeoutCommands(ctx, root);
  addTunableCommands(ctx, root);
  addSyncCommands(ctx, root);
  addInterfaceCommands(ctx, root);
  addRouteCommands(ctx, root);
  addDnsCommands(ctx, root);
  addNtpCommands(ctx, root);
  addConfigCommands(ctx, root);
  addShowCommands(ctx, root);
  addProbeCommands(ctx, root);
  addCaptureCommands(ctx, root);
  addPowerCommands(ctx, root);
  return root;
}

const stripNewline = (s: string) => s.replace(/\n$/, "");

/**
 * The shell's command tree: every admin command, `daemon restart`, `status`, `ipvsadm`, `help`,
 * `exit`, `quit`.
 * Help and errors go to `ctx.io`; parse errors throw `CommanderError` instead of exiting.
 * Usage lines leave out the program name, since inside the shell nobody types it.
 */
export function buildShellTree(ctx: CommandContext): Command {
  const root = new Command("fullnat")
    .description(
      "fullnat admin shell: type a command, 'help COMMAND' for its options, Tab to complete",
    )
    .usage("COMMAND [options]")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.io.out(stripNewline(s)),
      writeErr: (s) => ctx.io.err(stripNewline(s)),
      getOutHelpWidth: () => ctx.helpWidth,
      getErrHelpWidth: () => ctx.helpWidth,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .configureHelp({
      commandUsage(cmd: Command): string {
        return Help.prototype.commandUsage.call(this, cmd).replace(/^fullnat /, "");
      },
    })
    .helpCommand("help [command...]", "show help for a command, e.g. help service add");
  addAdminCommands(root, ctx);
  // One-shot has `fullnat daemon` (run it) and `fullnat restart` instead (main.ts).
  addDaemonCommands(ctx, root);
  addSessionCommands(ctx, root);
  // The appliance's slots: only in the shell (the admin's login shell on the box).
  addSystemCommands(ctx, root);
  return root;
}

/** The names a command line may start with in the shell (commands and their aliases). */
export function topLevelNames(tree: Command): string[] {
  return [...tree.commands.flatMap((c) => [c.name(), ...c.aliases()]), "help"];
}
