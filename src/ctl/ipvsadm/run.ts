/**
 * Runs one ipvsadm command line against the daemon's control interface and returns what
 * ipvsadm would have printed and its exit status. It prints nothing and never exits, so the
 * `fullnat ipvsadm` command, the admin shell and the tests all share it.
 *
 * @module
 */

import type { ServiceKey, ServiceView } from "../../fullnat/types.ts";
import type { ConfigDocument } from "../../persist/document.ts";
import { connectionPages, type RemoteControl } from "../remote.ts";
import { canonicalAddress } from "../../vocab/mod.ts";
import { applyChange, isChangeCommand } from "./apply_command.ts";
import { EXIT_USAGE, type IpvsadmCommand, type IpvsadmFailure } from "./command.ts";
import { type ControlCommandKind, describeFailure, incomplete, missingService } from "./errors.ts";
import {
  connectionsTitle,
  formatConnectionRows,
  formatLocalAddressTable,
  formatOneService,
  formatRules,
  formatServiceLocalAddresses,
  formatServiceTable,
  formatTimeouts,
} from "./format.ts";
import { parseIpvsadm } from "./parse.ts";
import { applyHere, formatBadLines, planRestore } from "./restore.ts";
import { usageText, versionText } from "./usage.ts";

/** What an ipvsadm run produced. */
export interface IpvsadmResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options of {@linkcode runIpvsadm}. */
export interface RunOptions {
  /** Program name shown in help texts (ipvsadm's argv[0]); default "ipvsadm". */
  program?: string;
  /**
   * Where to print a connection listing as it streams in, page by page, instead of
   * collecting it into `stdout` (a million sessions are then never held as one text).
   */
  write?: (text: string) => Promise<void>;
  /** Standard input, for `-R`; without it `-R` is refused. */
  stdin?: () => Promise<string>;
  /**
   * How `-R` applies the configuration its input leads to, all at once. The daemon's
   * `configApply` is best (one change event: one save, one iptables sync); by default the same
   * planned apply runs from this process through `control`.
   */
  applyDocument?: (doc: ConfigDocument) => Promise<unknown>;
  /**
   * Calls one of the daemon's own ops beside the control contract: the sync daemon commands
   * (`--start-daemon`, `--stop-daemon`, `-L --daemon`) need it, and are refused without it.
   */
  call?: (op: string, ...args: unknown[]) => Promise<unknown>;
}

const ok = (stdout = ""): IpvsadmResult => ({ stdout, stderr: "", exitCode: 0 });
const failed = (f: IpvsadmFailure): IpvsadmResult => ({
  stdout: "",
  stderr: f.message + "\n",
  exitCode: f.exitCode,
});

const canonical = (address: string) => canonicalAddress(address) ?? address;

/** Finds a service in a listing, comparing addresses by value ("::1" equals "0::1"). */
function findService(services: ServiceView[], key: ServiceKey): ServiceView | undefined {
  const address = canonical(key.address);
  return services.find((s) =>
    s.protocol === key.protocol && s.port === key.port && canonical(s.address) === address
  );
}

/** `--rate` from a lister that estimates no rates (an engine, or a daemon without them). */
const NO_RATE_ESTIMATES: IpvsadmFailure = {
  message: "--rate: this fullnat daemon estimates no rates (use --stats for the counters)",
  exitCode: EXIT_USAGE,
};

const lacksRates = (services: ServiceView[]) =>
  services.some((s) => s.rate === undefined || s.realServers.some((r) => r.rate === undefined));

/** `-R`: reads the input, refuses it whole with every bad line, or applies it at once. */
async function restore(
  control: RemoteControl,
  options: RunOptions,
  program: string,
): Promise<IpvsadmResult> {
  if (options.stdin === undefined) {
    return failed({
      message: "-R reads the rules from standard input, and there is none here",
      exitCode: EXIT_USAGE,
    });
  }
  const plan = await planRestore(await options.stdin(), control, program);
  if (!plan.ok) {
    return failed({
      message: formatBadLines(plan.bad, plan.commands),
      exitCode: plan.bad[0].exitCode,
    });
  }
  await (options.applyDocument ?? applyHere(control))(plan.doc);
  return ok();
}

/** Performs a parsed command; control errors propagate to the caller. */
async function perform(
  command: Exclude<IpvsadmCommand, { kind: "help" | "version" | "restore" }>,
  control: RemoteControl,
  write: RunOptions["write"],
  call: RunOptions["call"],
): Promise<IpvsadmResult> {
  if (isChangeCommand(command)) {
    await applyChange(command, control);
    return ok();
  }
  switch (command.kind) {
    case "start-daemon":
    case "stop-daemon":
    case "list-daemon": {
      if (call === undefined) {
        return failed({ message: "sync daemons run in the fullnat daemon", exitCode: EXIT_USAGE });
      }
      if (command.kind === "start-daemon") await call("syncStart", command.spec);
      else if (command.kind === "stop-daemon") await call("syncStop", command.role);
      else {
        const list = await call("syncList") as { line: string }[];
        return ok(list.map((d) => d.line + "\n").join(""));
      }
      return ok();
    }
    case "zero":
      // No argument at all (not `undefined`) so "all services" survives a JSON round trip.
      await (command.service === undefined
        ? control.zeroStats()
        : control.zeroStats(command.service));
      return ok();
    case "list-timeouts":
      return ok(formatTimeouts(await control.getTimeouts()));
    case "list-connections": {
      // Formatted page by page; printed as it comes when there is somewhere to print it.
      // A failure part-way through still fails the command, as the whole listing would; once
      // rows are printed it also says that what was printed is not the whole table.
      let out = connectionsTitle(command.format.persistentConn);
      let printed = 0;
      let pending = 0;
      try {
        for await (const page of connectionPages(control)) {
          out += formatConnectionRows(page);
          pending += page.length;
          if (write !== undefined && out.length >= 64 * 1024) {
            await write(out);
            out = "";
            printed += pending;
            pending = 0;
          }
        }
      } catch (e) {
        if (write === undefined || printed === 0) throw e;
        const { message, exitCode } = describeFailure(command.kind, e);
        return failed({ message: incomplete(printed, message), exitCode });
      }
      if (write === undefined) return ok(out);
      if (out !== "") await write(out);
      return ok();
    }
    case "save":
      return ok(formatRules(await control.listServices(), command.format));
    case "list-services": {
      const services = await control.listServices();
      const { format } = command;
      if (format.rate && !format.stats && lacksRates(services)) return failed(NO_RATE_ESTIMATES);
      if (command.service === undefined) return ok(formatServiceTable(services, command.format));
      const one = findService(services, command.service);
      return one === undefined
        ? failed(missingService("list-services"))
        : ok(formatOneService(one, command.format));
    }
    case "get-laddr": {
      const services = await control.listServices();
      if (command.service === undefined) return ok(formatLocalAddressTable(services));
      const one = findService(services, command.service);
      return one === undefined
        ? failed(missingService("get-laddr"))
        : ok(formatServiceLocalAddresses(one));
    }
  }
}

/**
 * Parses `argv` (without the program name) as an ipvsadm command line and carries it out
 * through `control`. A command line ipvsadm would refuse makes no control call at all.
 */
export async function runIpvsadm(
  argv: readonly string[],
  control: RemoteControl,
  options: RunOptions = {},
): Promise<IpvsadmResult> {
  const program = options.program ?? "ipvsadm";
  const parsed = parseIpvsadm(argv, program);
  if (!parsed.ok) return failed(parsed.error);
  const command = parsed.command;
  if (command.kind === "help") return ok(usageText(program));
  if (command.kind === "version") return ok(versionText());
  try {
    if (command.kind === "restore") return await restore(control, options, program);
    return await perform(command, control, options.write, options.call);
  } catch (e) {
    return failed(describeFailure(command.kind satisfies ControlCommandKind, e));
  }
}
