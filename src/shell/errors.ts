/**
 * How a failed admin command is reported: one message that says what to fix, and an exit
 * status. Exit 2 means the command line was wrong (fix the command), 1 that the daemon refused
 * or could not be reached (fix the situation), as the README documents.
 *
 * @module
 */
import { RemoteError } from "../ctl/protocol.ts";
import { incomplete } from "../ctl/ipvsadm/errors.ts";
import { ControlError } from "../fullnat/types.ts";

/** Exit status of a command line the user must correct. */
export const EXIT_USAGE = 2;
/** Exit status when the daemon refused the change or could not be asked. */
export const EXIT_FAILED = 1;

/**
 * A listing that failed after some of its rows were printed: reported as the failure it was,
 * with the word that the rows above are not all of them.
 */
export class IncompleteListingError extends Error {
  constructor(readonly printed: number, readonly reason: unknown) {
    super(incomplete(printed, reason instanceof Error ? reason.message : String(reason)));
    this.name = "IncompleteListingError";
  }
}

/** A mistake in the command line found after parsing (e.g. nothing to change was given). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The daemon lacks an operation this command needs (an older daemon, say). */
export class UnsupportedOpError extends Error {
  constructor(readonly feature: string, readonly op: string) {
    super(
      `the running fullnat daemon does not support ${feature} (it has no '${op}' control ` +
        `operation); upgrade fullnat on this box and restart the daemon`,
    );
    this.name = "UnsupportedOpError";
  }
}

/**
 * Input that was read and refused as a whole (an import with problems); the problems are
 * printed before it is thrown, so its message only sums them up. Exit 1.
 */
export class InputRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputRefusedError";
  }
}

/** A program of the host that ran and failed (its own output said why): exit status 1. */
export class ProgramFailedError extends Error {
  constructor(readonly program: string, readonly status: number) {
    super(`${program} exited with status ${status}`);
    this.name = "ProgramFailedError";
  }
}

/** True for failures of the connection itself, after which a new connection is needed. */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof IncompleteListingError) return isConnectionFailure(error.reason);
  return error instanceof Error && !(error instanceof ControlError) &&
    !(error instanceof RemoteError) && !(error instanceof UsageError) &&
    !(error instanceof UnsupportedOpError) && !(error instanceof InputRefusedError) &&
    !(error instanceof ProgramFailedError);
}

/** The message and exit status for an error thrown while running a command. */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof IncompleteListingError) {
    const { message, exitCode } = describeError(error.reason);
    return { message: incomplete(error.printed, message), exitCode };
  }
  if (error instanceof UsageError) return { message: error.message, exitCode: EXIT_USAGE };
  if (error instanceof ControlError) {
    // The daemon's wording names the field; bad values are the user's to fix.
    const exitCode = error.code === "invalid-argument" ? EXIT_USAGE : EXIT_FAILED;
    return { message: `the daemon refused: ${error.message}`, exitCode };
  }
  if (error instanceof RemoteError) {
    return { message: `the daemon failed: ${error.message}`, exitCode: EXIT_FAILED };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, exitCode: EXIT_FAILED };
}

/**
 * Calls an op that not every daemon has; a daemon without it yields
 * {@linkcode UnsupportedOpError} naming `feature` instead of a bare "unknown op".
 */
export async function callOptional(
  call: (op: string, ...args: unknown[]) => Promise<unknown>,
  feature: string,
  op: string,
  ...args: unknown[]
): Promise<unknown> {
  try {
    return await call(op, ...args);
  } catch (e) {
    if (e instanceof RemoteError && e.code === "unknown-op") {
      throw new UnsupportedOpError(feature, op);
    }
    throw e;
  }
}
