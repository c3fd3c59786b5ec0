/**
 * The typed result of parsing an ipvsadm command line: what to do, with every value already
 * validated, or why the line was refused (ipvsadm's own message and exit status).
 *
 * @module
 */

import type {
  Endpoint,
  RealServerSpec,
  ServiceKey,
  ServiceOptions,
  Timeouts,
} from "../../fullnat/types.ts";
import type { SyncDaemonSpec, SyncRole } from "../../sync/sync_config.ts";

/** Exit status of ipvsadm's `fail(2, ...)`: a command line it refused before acting. */
export const EXIT_USAGE = 2;
/** Exit status when the kernel (here: the daemon) refused, or popt failed: `return -1` → 255. */
export const EXIT_REFUSED = 255;
/** Exit status of ipvsadm's `exit(1)` paths (listing or editing a service that does not exist). */
export const EXIT_NOT_FOUND = 1;

/** How a listing is printed (`-n`, `--stats`, `--exact`, `--nosort`). */
export interface ListFormat {
  /** `-n`. Accepted for compatibility: fullnat never resolves names, so output is numeric. */
  numeric: boolean;
  /** `--stats`: counters instead of weights and connection counts. */
  stats: boolean;
  /** `--rate`: the daemon's rate estimates (`--stats` wins when both are given, as ipvsadm). */
  rate: boolean;
  /** `--exact`: full numbers instead of K/M/G/T abbreviations. */
  exact: boolean;
  /** `--nosort`: keep the daemon's order instead of sorting by protocol, address, port. */
  nosort: boolean;
  /**
   * `--persistent-conn`: real servers' persistence templates (PersistConn) beside weights and
   * connection counts; with `-c`, the persistence engine columns in the title.
   */
  persistentConn: boolean;
  /** `--thresholds`: real servers' Uthreshold and Lthreshold instead of weights. */
  thresholds?: boolean;
  /** `--tun-info`: a TunnelInfo column (`gue:6080:-c`) beside Forward. */
  tunInfo?: boolean;
}

/** One parsed ipvsadm command. */
export type IpvsadmCommand =
  | { kind: "add-service"; service: ServiceKey; options: ServiceOptions }
  | { kind: "edit-service"; service: ServiceKey; options: Partial<ServiceOptions> }
  | { kind: "delete-service"; service: ServiceKey }
  | { kind: "clear" }
  | { kind: "add-server"; service: ServiceKey; server: RealServerSpec }
  | { kind: "edit-server"; service: ServiceKey; server: Partial<RealServerSpec> & Endpoint }
  | { kind: "delete-server"; service: ServiceKey; server: Endpoint }
  | { kind: "list-services"; service?: ServiceKey; format: ListFormat }
  | { kind: "list-connections"; format: ListFormat }
  | { kind: "list-timeouts" }
  | { kind: "zero"; service?: ServiceKey }
  | { kind: "set-timeouts"; timeouts: Partial<Timeouts> }
  | { kind: "add-laddr"; service: ServiceKey; address: string }
  | { kind: "delete-laddr"; service: ServiceKey; address: string }
  | { kind: "get-laddr"; service?: ServiceKey }
  | { kind: "save"; format: ListFormat }
  | { kind: "restore" }
  | { kind: "start-daemon"; spec: SyncDaemonSpec }
  | { kind: "stop-daemon"; role: SyncRole }
  | { kind: "list-daemon" }
  | { kind: "help" }
  | { kind: "version" };

/** A refused command line: print `message` on stderr and exit with `exitCode`. */
export interface IpvsadmFailure {
  message: string;
  exitCode: number;
}

/** Either the command to run or the refusal to print. */
export type ParseResult =
  | { ok: true; command: IpvsadmCommand }
  | { ok: false; error: IpvsadmFailure };
