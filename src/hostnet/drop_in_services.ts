/**
 * The services that read the DNS and NTP drop-ins (networkd.ts, written by files.ts), and
 * telling them when one changed: systemd-resolved reads `resolved.conf.d/fullnat.conf` and
 * systemd-timesyncd `timesyncd.conf.d/fullnat.conf` only when they start, so a `dns set` or
 * `ntp set` is in effect only once the service is restarted. `try-` restarts: a service that
 * is not running is left stopped (it reads the file when it starts).
 *
 * Only the drop-ins of the box's own systemd are followed by a restart: a daemon whose files go
 * to another directory (a developer machine, the tests) must never restart the host's
 * services, so {@linkcode serviceRunnerFor} gives no runner for it.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { exec } from "../provision/exec.ts";
import { placeFile } from "./files.ts";

/** A drop-in and the service that reads it. */
export interface DropInService {
  /** Path relative to systemd's configuration directory (networkd.ts). */
  file: string;
  unit: string;
  /** systemctl's verb: resolved reloads when it can, timesyncd only restarts. */
  verb: "try-reload-or-restart" | "try-restart";
}

/** The drop-ins networkd.ts writes and who reads them. */
export const DROP_IN_SERVICES: readonly DropInService[] = [
  {
    file: "resolved.conf.d/fullnat.conf",
    unit: "systemd-resolved.service",
    verb: "try-reload-or-restart",
  },
  { file: "timesyncd.conf.d/fullnat.conf", unit: "systemd-timesyncd.service", verb: "try-restart" },
];

/** Runs `systemctl VERB UNIT`; rejects with what went wrong. */
export type ServiceRunner = (verb: DropInService["verb"], unit: string) => Promise<void>;

/** systemd's own configuration directory: the only one whose drop-ins restart a service. */
export const SYSTEM_CONFIG_DIR = "/etc/systemd";

/** The services whose drop-in is among `touched` (paths written or removed by syncFiles). */
export function servicesToTell(networkDir: string, touched: readonly string[]): DropInService[] {
  const changed = new Set(touched.map((p) => resolve(p)));
  return DROP_IN_SERVICES.filter((s) => changed.has(resolve(placeFile(networkDir, s.file))));
}

/** Restarts through the real systemctl. */
export const systemctlRunner: ServiceRunner = async (verb, unit) => {
  const out = await exec("systemctl", [verb, unit]);
  if (out.code !== 0) {
    throw new Error(`systemctl ${verb} ${unit} failed (exit ${out.code}): ${out.stderr.trim()}`);
  }
};

/**
 * The runner for a daemon writing its files to `networkDir`: systemctl when it manages the
 * host network and the files are systemd's own (`/etc/systemd/network`), none otherwise.
 */
export function serviceRunnerFor(manage: boolean, networkDir: string | null): ServiceRunner | null {
  if (!manage || networkDir === null) return null;
  return dirname(resolve(networkDir)) === SYSTEM_CONFIG_DIR ? systemctlRunner : null;
}
