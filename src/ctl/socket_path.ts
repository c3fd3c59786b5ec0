/**
 * Where the daemon's control socket lives.
 *
 * @module
 */

/** The control socket's place when nothing moves it. */
export const DEFAULT_SOCKET_PATH = "/run/fullnat/control.sock";

/**
 * The control socket path: `$FULLNAT_SOCKET` when set and non-empty (tests run several daemons
 * side by side), else {@linkcode DEFAULT_SOCKET_PATH}. Without permission to read the
 * environment the default is used rather than failing.
 */
export function defaultSocketPath(): string {
  try {
    const fromEnv = Deno.env.get("FULLNAT_SOCKET");
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  } catch {
    // No --allow-env: the default is the only sensible answer.
  }
  return DEFAULT_SOCKET_PATH;
}
