/**
 * The admin command set: `fullnat <noun> <verb>` one-shot commands and `fullnat shell`.
 *
 * @module
 */
export { addAdminCommands, buildShellTree } from "./tree.ts";
export { addRestartCommand } from "./commands/daemon.ts";
export { addShellCommand, runShell, type ShellOptions } from "./shell.ts";
export { createContext, type Runtime } from "./runtime.ts";
export type { CommandContext, Output, ShellControl } from "./context.ts";
export { oneShotRuntime } from "./shell.ts";
