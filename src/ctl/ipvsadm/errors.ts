/**
 * Turns a refused control call into what ipvsadm prints and its exit status. The texts are
 * libipvs's `ipvs_strerror` table (FULLNAT edition), which words the same errno differently
 * depending on the call: a missing service is "No such service" when editing or deleting it,
 * but "Service not defined" when adding a real server or a local address to it.
 *
 * @module
 */

import { ControlError, type ControlErrorCode } from "../../fullnat/types.ts";
import { EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE, type IpvsadmFailure } from "./command.ts";

/** Commands that call the daemon and can be refused by it. */
export type ControlCommandKind =
  | "add-service"
  | "edit-service"
  | "delete-service"
  | "clear"
  | "add-server"
  | "edit-server"
  | "delete-server"
  | "zero"
  | "set-timeouts"
  | "add-laddr"
  | "delete-laddr"
  | "get-laddr"
  | "list-services"
  | "list-connections"
  | "list-timeouts"
  | "save"
  | "restore"
  | "start-daemon"
  | "stop-daemon"
  | "list-daemon";

/** libipvs's messages for "the kernel said no", per command and error. */
const MESSAGES: Partial<Record<ControlCommandKind, Partial<Record<ControlErrorCode, string>>>> = {
  "add-service": { "service-exists": "Service already exists" },
  "edit-service": { "no-service": "No such service" },
  "delete-service": { "no-service": "No such service" },
  "zero": { "no-service": "No such service" },
  "add-server": {
    "no-service": "Service not defined",
    "dest-exists": "Destination already exists",
  },
  "edit-server": { "no-service": "Service not defined", "no-dest": "No such destination" },
  "delete-server": { "no-service": "Service not defined", "no-dest": "No such destination" },
  "add-laddr": {
    "no-service": "Service not defined",
    "laddr-exists": "Local address already exists",
  },
  "delete-laddr": { "no-service": "Service not defined", "no-laddr": "No such Local address" },
  "get-laddr": { "no-service": "No such service" },
  "list-services": { "no-service": "No such service" },
};

/**
 * The message and exit status for an error thrown by a control call made for `command`.
 * ipvsadm exits 255 when the kernel refuses; the FULLNAT ipvsadm exits 1 when `-E` or `-L -t`
 * names a missing service (it looks the service up first and stops there). An error that is
 * not a {@linkcode ControlError} (the daemon went away, say) exits 2, as ipvsadm does when it
 * cannot reach IPVS at all.
 */
export function describeFailure(command: ControlCommandKind, error: unknown): IpvsadmFailure {
  if (error instanceof ControlError) {
    const message = MESSAGES[command]?.[error.code] ?? error.message;
    const lookupFirst = command === "edit-service" || command === "list-services";
    const exitCode = error.code === "no-service" && lookupFirst ? EXIT_NOT_FOUND : EXIT_REFUSED;
    return { message, exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, exitCode: EXIT_USAGE };
}

/** "No such service" as printed by `-L -t` / `-G -t` when the listing lacks the service. */
export function missingService(command: "list-services" | "get-laddr"): IpvsadmFailure {
  return describeFailure(command, new ControlError("no-service", "No such service"));
}

/**
 * What a connection listing that failed after printing `rows` rows says last: that the rows
 * printed are not the whole table, and why.
 */
export function incomplete(rows: number, reason: string): string {
  return `listing incomplete: stopped after ${rows} connection${rows === 1 ? "" : "s"}: ${reason}`;
}
