/**
 * The daemon's own process, as the `daemonInfo` control op (and the `restart` op's reply) tell
 * it: its process id and the systemd unit that runs it. A client that restarts the
 * daemon needs both: the new daemon has another pid, which tells it apart from the old one
 * still closing its socket, and only a daemon that a service manager runs is started again.
 *
 * @module
 */

/** What `daemonInfo` answers. */
export interface DaemonProcess {
  pid: number;
  /**
   * The systemd unit this daemon runs in (`fullnat.service` on the appliance), or null when
   * systemd did not start it (then nothing starts it again after a restart). A daemon that
   * systemd runs but whose unit cannot be read from its cgroup says `"unknown unit"`.
   */
  systemdUnit: string | null;
  /** Where the sessions are kept (`--run-dir`); null: in process memory, lost on a restart. */
  runDir: string | null;
  /** When this process started, ISO 8601 UTC (`show version`'s daemon uptime). */
  startedAt: string;
}

/**
 * The systemd unit of a process from its environment and `/proc/self/cgroup`.
 * `INVOCATION_ID` is set by systemd (232 and later) for every process it starts as a unit and
 * by nothing else, so it tells a unit from a daemon started by hand; the cgroup path names the
 * unit (cgroup v2 `0::/system.slice/fullnat.service`, v1 `1:name=systemd:/...`).
 */
export function systemdUnitOf(invocationId: string | undefined, cgroup: string): string | null {
  if (invocationId === undefined || invocationId === "") return null;
  const units = cgroup.split("\n").flatMap((line) => {
    const path = line.split(":").slice(2).join(":");
    return path.split("/").filter((part) => /\.(service|scope)$/.test(part));
  });
  return units.at(-1) ?? "unknown unit";
}

function readCgroup(): string {
  try {
    return Deno.readTextFileSync("/proc/self/cgroup");
  } catch {
    return "";
  }
}

/** This process, as {@linkcode DaemonProcess}. */
export function daemonProcess(runDir: string | null): DaemonProcess {
  let invocationId: string | undefined;
  try {
    invocationId = Deno.env.get("INVOCATION_ID");
  } catch {
    // Without env access the daemon cannot tell; it says it is not a unit.
  }
  return {
    pid: Deno.pid,
    systemdUnit: systemdUnitOf(invocationId, readCgroup()),
    runDir,
    startedAt: new Date(performance.timeOrigin).toISOString(),
  };
}
