/**
 * The ipvsadm commands that change the configuration, and the one mapping from each to its
 * control call. A command line runs through it against the daemon; `-R` runs every line of its
 * input through it against a scratch engine first.
 *
 * @module
 */
import type { RemoteControl } from "../remote.ts";
import type { IpvsadmCommand } from "./command.ts";

/** The kinds of command that change the configuration (what a restore file may hold). */
export const CHANGE_KINDS = [
  "add-service",
  "edit-service",
  "delete-service",
  "clear",
  "add-server",
  "edit-server",
  "delete-server",
  "add-laddr",
  "delete-laddr",
  "set-timeouts",
] as const satisfies readonly IpvsadmCommand["kind"][];

/** One configuration-changing command. */
export type ChangeCommand = Extract<IpvsadmCommand, { kind: typeof CHANGE_KINDS[number] }>;

/** True when `command` changes the configuration. */
export function isChangeCommand(command: IpvsadmCommand): command is ChangeCommand {
  return (CHANGE_KINDS as readonly string[]).includes(command.kind);
}

/** Makes the control call for `command`; a refusal propagates as the target threw it. */
export async function applyChange(command: ChangeCommand, control: RemoteControl): Promise<void> {
  switch (command.kind) {
    case "add-service":
      return await control.addService(command.service, command.options);
    case "edit-service":
      return await control.editService(command.service, command.options);
    case "delete-service":
      return await control.deleteService(command.service);
    case "clear":
      return await control.clear();
    case "add-server":
      return await control.addRealServer(command.service, command.server);
    case "edit-server":
      return await control.editRealServer(command.service, command.server);
    case "delete-server":
      return await control.deleteRealServer(command.service, command.server);
    case "add-laddr":
      return await control.addLocalAddress(command.service, command.address);
    case "delete-laddr":
      return await control.deleteLocalAddress(command.service, command.address);
    case "set-timeouts":
      return await control.setTimeouts(command.timeouts);
  }
}
