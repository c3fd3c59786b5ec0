/**
 * `daemon restart` and `fullnat restart`, the daemon restarted in place. The daemon
 * exits keeping its diversion rules and session files, the service unit starts it again and
 * the new daemon takes the sessions over (README "Sessions outlive the daemon"). The command
 * waits for the new daemon to answer and says how long the daemon was away, or why none came
 * back.
 *
 * @module
 */
import type { Command } from "commander";
import type { DaemonProcess } from "../../daemon/process_info.ts";
import { RemoteError } from "../../ctl/protocol.ts";
import { action, type ActionInput, leaf } from "../command_kit.ts";
import type { CommandContext, ShellControl } from "../context.ts";
import { callOptional, isConnectionFailure } from "../errors.ts";
import { parseWaitSeconds } from "../values.ts";

/**
 * How long the command waits for the new daemon unless told otherwise, in seconds. A daemon is
 * back in about a second on real hardware, but the appliance under software emulation (the
 * boot test's qemu without KVM) took 9.5 s and 11.8 s: 10 would call a slow start a failure.
 */
export const DEFAULT_WAIT_SECONDS = 30;
/** Between two tries to reach the new daemon. */
const POLL_MS = 50;

/** What is known of a daemon; fields stay undefined when an older daemon does not say. */
type Seen = Partial<DaemonProcess> & { sessions?: number };

/**
 * Calls an op whose answer only adds detail: undefined when the daemon lacks it or fails it
 * (a daemon whose `status` fails may be the very one to restart). A lost connection throws.
 */
async function optional(c: ShellControl, op: string): Promise<unknown> {
  try {
    return await c.call(op);
  } catch (e) {
    if (e instanceof RemoteError) return undefined;
    throw e;
  }
}

function processOf(value: unknown): Partial<DaemonProcess> {
  const v = (value ?? {}) as Record<string, unknown>;
  return {
    ...(typeof v.pid === "number" && { pid: v.pid }),
    ...((typeof v.systemdUnit === "string" || v.systemdUnit === null) &&
      { systemdUnit: v.systemdUnit as string | null }),
    ...((typeof v.runDir === "string" || v.runDir === null) &&
      { runDir: v.runDir as string | null }),
  };
}

function sessionsOf(status: unknown): number | undefined {
  const n = (status as { sessions?: unknown } | undefined)?.sessions;
  return typeof n === "number" ? n : undefined;
}

/** Who answers on the socket now: its process and how many sessions it holds. */
async function ask(c: ShellControl): Promise<Seen> {
  const info = processOf(await optional(c, "daemonInfo"));
  return { ...info, sessions: sessionsOf(await optional(c, "status")) };
}

/** `p`, or undefined once `ms` passed: a daemon may accept a connection and not answer yet. */
async function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sessionWord = (n: number) => `${n} session${n === 1 ? "" : "s"}`;

/** What the daemon keeps, said as the old one goes. */
function stoppingLine(old: Seen): string {
  const who = old.pid === undefined ? "daemon" : `daemon (pid ${old.pid})`;
  if (old.runDir === null) {
    const lost = old.sessions === undefined ? "its sessions" : `its ${sessionWord(old.sessions)}`;
    return `${who} stopping for a restart: diversion rules kept; ${lost} end with it ` +
      `(it keeps them in process memory: --no-run-dir)`;
  }
  const kept = old.sessions === undefined ? "sessions" : sessionWord(old.sessions);
  return `${who} stopping for a restart: diversion rules and ${kept} kept for the new daemon`;
}

function backLine(awayMs: number, now: Seen): string {
  const parts: string[] = [];
  if (now.pid !== undefined) parts.push(`pid ${now.pid}`);
  if (typeof now.systemdUnit === "string") {
    parts.push(`started again by systemd (${now.systemdUnit})`);
  } else if (now.systemdUnit === null) parts.push("started again, not by systemd");
  const head = `daemon back after ${seconds(awayMs)}` +
    (parts.length ? `: ${parts.join(", ")}` : "");
  return now.sessions === undefined ? head : `${head}; ${sessionWord(now.sessions)} in its table`;
}

/** Why no new daemon answered, and what to do. */
function notBackMessage(waitS: number, old: Seen, stillOld: boolean): string {
  if (stillOld) {
    const who = old.pid === undefined ? "the daemon" : `the daemon (pid ${old.pid})`;
    return `${who} still answered after ${waitS} s: it did not stop; ` +
      `try again, or as root: systemctl restart fullnat`;
  }
  const none = `no daemon answered within ${waitS} s`;
  const waiting = "until one runs, diverted packets wait in the kernel's queue";
  if (old.systemdUnit === null) {
    return `${none}: the daemon did not run under systemd, so nothing starts it again; start ` +
      `it with 'fullnat daemon' (it takes the rules and sessions over); ${waiting}`;
  }
  if (typeof old.systemdUnit === "string") {
    return `${none}: systemd (${old.systemdUnit}) did not start it again; as root see ` +
      `'systemctl status ${old.systemdUnit}' and 'journalctl -u ${old.systemdUnit}'; ${waiting}`;
  }
  return `${none}: a daemon that systemd does not run (the appliance's fullnat.service does) ` +
    `is not started again; start it with 'fullnat daemon' (it takes the sessions over); ${waiting}`;
}

/**
 * Waits until a daemon other than `old` answers. A daemon that reports its pid is new when
 * the pid differs; for one that does not, the socket must first have been seen without a
 * daemon, since the old one keeps answering for a moment after it agreed to restart.
 */
async function awaitNewDaemon(
  ctx: CommandContext,
  control: ActionInput["control"],
  old: Seen,
  waitMs: number,
): Promise<{ now: Seen } | { stillOld: boolean }> {
  const deadline = performance.now() + waitMs;
  let seenGone = false;
  let stillOld = false;
  while (true) {
    // Every try on a fresh connection: the one to the old daemon is closed as it stops.
    ctx.resetControl();
    const left = Math.max(deadline - performance.now(), POLL_MS);
    try {
      const now = await within(left, control().then(ask));
      if (now !== undefined) {
        const isNew = old.pid !== undefined && now.pid !== undefined
          ? now.pid !== old.pid
          : seenGone;
        if (isNew) return { now };
        stillOld = true;
      }
    } catch (e) {
      if (!isConnectionFailure(e)) throw e;
      seenGone = true;
      stillOld = false;
    }
    if (performance.now() >= deadline) return { stillOld };
    await delay(POLL_MS);
  }
}

/** Restarts the daemon, and unless `waitS` is 0 waits for the new one; see the module doc. */
export async function restartDaemon(
  ctx: CommandContext,
  control: ActionInput["control"],
  waitS: number,
  feature = "'daemon restart'",
): Promise<void> {
  const c = await control();
  const before = sessionsOf(await optional(c, "status"));
  const reply = await callOptional(c.call.bind(c), feature, "restart");
  const asked = performance.now();
  const old: Seen = { ...processOf(reply), sessions: before };
  ctx.io.out(stoppingLine(old));
  if (waitS === 0) {
    ctx.resetControl();
    ctx.io.out("not waiting for the new daemon (--wait 0)");
    return;
  }
  const result = await awaitNewDaemon(ctx, control, old, waitS * 1000);
  if ("now" in result) ctx.io.out(backLine(performance.now() - asked, result.now));
  else {
    ctx.resetControl();
    throw new Error(notBackMessage(waitS, old, result.stillOld));
  }
}

/** The help shared by `daemon restart` and `fullnat restart`: what is kept, what pauses. */
const RESTART_HELP = `
Keeps every live session (the new daemon takes them over from the run
directory), the iptables diversion rules and the configuration. Interrupts
forwarding while no daemon runs, about a second (mostly the new process
starting): packets wait in the kernel's queue meanwhile (TCP retransmits any a
full queue dropped), so connections go on. The service unit (systemd) starts the
new daemon; a daemon not run by systemd is not started again. Also how an
upgrade takes effect.

Asks nothing. Waits up to --wait seconds for the new daemon to answer and prints
how long the daemon was away; exits 1 if none answered.

Example:
  daemon restart --wait 30`;

/** Adds the restart command as `name` under `parent` (`daemon restart`, `fullnat restart`). */
export function addRestartCommand(
  ctx: CommandContext,
  parent: Command,
  name: string,
): Command {
  // What the user typed, for the help's example and the message of a daemon without the op.
  const typed = `${parent.name()} ${name}`;
  return leaf(
    ctx,
    parent,
    name,
    "restart the daemon in place: sessions and rules kept, forwarding pauses briefly",
  ).option(
    "--wait <seconds>",
    "how long to wait for the new daemon to answer (0: do not wait)",
    parseWaitSeconds,
    DEFAULT_WAIT_SECONDS,
  ).addHelpText("after", RESTART_HELP.replace("daemon restart", typed)).action(
    action(
      ctx,
      ({ opts, control }) => restartDaemon(ctx, control, opts.wait as number, `'${typed}'`),
    ),
  );
}

/** Adds `daemon` and its verb `restart` (the shell's; one-shot has `fullnat restart`). */
export function addDaemonCommands(ctx: CommandContext, root: Command): void {
  const daemon = root.command("daemon").description(
    "the daemon process: restart it in place",
  );
  addRestartCommand(ctx, daemon, "restart");
}
