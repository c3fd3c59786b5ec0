/**
 * The `hostPower` control op: the daemon (root) reboots or powers off the box for the admin
 * shell's `reboot` / `shutdown`, whose user is not root. It answers first and runs systemctl
 * a moment later, so the client hears that it is happening before the connection goes.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";

/** What the box is asked to do. */
export type PowerAction = "reboot" | "poweroff";

/** The systemctl command line for `what`. */
export function powerArgv(what: PowerAction): string[] {
  return ["systemctl", what];
}

/** Runs a command line; resolves with its exit status. */
export type Runner = (argv: string[]) => Promise<number>;

async function systemRunner(argv: string[]): Promise<number> {
  const r = await new Deno.Command(argv[0], { args: argv.slice(1), stdin: "null" }).output();
  return r.code;
}

/** The op's handler; `run` and `delayMs` are for tests. */
export function hostPowerOp(
  log: (message: string) => void,
  run: Runner = systemRunner,
  delayMs = 200,
): (what: unknown) => { action: PowerAction } {
  return (what: unknown) => {
    if (what !== "reboot" && what !== "poweroff") {
      throw new ControlError(
        "invalid-argument",
        `hostPower takes "reboot" or "poweroff" (got ${JSON.stringify(what)})`,
      );
    }
    log(`${what} asked for over the control socket: running systemctl ${what}`);
    setTimeout(() => {
      run(powerArgv(what)).then(
        (code) => code === 0 || log(`systemctl ${what} failed with status ${code}`),
        (e) => log(`systemctl ${what} could not run: ${e instanceof Error ? e.message : e}`),
      );
    }, delayMs);
    return { action: what };
  };
}
