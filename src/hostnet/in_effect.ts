/**
 * The DNS and NTP settings in effect on the box, as the services using them have them now, for
 * the shell's `dns show` and `ntp show` beside the stored ones: systemd-resolved's global name
 * servers and search domains (`resolvectl dns`, `resolvectl domain`), systemd-timesyncd's servers
 * and the one it talks to (`timedatectl show-timesync --all`) and whether the clock is
 * synchronized (`timedatectl show`). Read in the daemon, like `show interfaces` (live.ts).
 *
 * The service's state is read first (`systemctl show`): resolvectl and timedatectl would start a
 * stopped but enabled service through D-Bus activation, and a `show` must change nothing. A
 * missing tool, a stopped service or a failing query is an answer (`running: false` and why),
 * never an error.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";
import { exec } from "../provision/exec.ts";
import { parseKeyValues } from "../system/slots.ts";

/** What can be read. */
export const IN_EFFECT_KINDS = ["dns", "ntp"] as const;
/** One of {@linkcode IN_EFFECT_KINDS}. */
export type InEffectKind = typeof IN_EFFECT_KINDS[number];

/** systemd-resolved's global settings. */
export interface DnsInEffect {
  running: true;
  /** `DNS=` servers as resolved prints them (`ADDRESS[:PORT][%IFACE][#NAME]`). */
  servers: string[];
  /** Global search domains (resolved lists them sorted; `~` marks a routing-only one). */
  search: string[];
}

/** systemd-timesyncd's settings and state. */
export interface NtpInEffect {
  running: true;
  /** `NTP=` servers (SystemNTPServers). */
  servers: string[];
  /** What it uses when no server is set (FallbackNTPServers, compiled in or configured). */
  fallback: string[];
  /** The server it talks to now (ServerName, ServerAddress); null before it picked one. */
  serverName: string | null;
  serverAddress: string | null;
  /** The kernel's clock is synchronized (`timedatectl show` NTPSynchronized); null: unknown. */
  synchronized: boolean | null;
}

/** The service is not there to ask: why, in a few words. */
export interface NotInEffect {
  running: false;
  reason: string;
}

/** A command's outcome, text decoded. */
export interface ToolOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool; rejects only when it cannot run at all (not installed). */
export type ToolRunner = (cmd: string, args: string[]) => Promise<ToolOutput>;

// Plain, unwrapped, unpaged output whatever the daemon's environment.
const TOOL_ENV = { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "", COLUMNS: "4096", LC_ALL: "C" };

/** The real tools. */
export const systemRunner: ToolRunner = async (cmd, args) => {
  const out = await exec(cmd, args, { env: TOOL_ENV });
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: out.stderr };
};

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const firstLine = (text: string) => text.trim().split("\n")[0]?.trim() ?? "";

/**
 * The `Global:` entry of `resolvectl dns` / `resolvectl domain` (then `Link N (IF):` entries);
 * an entry too long for the terminal goes on in lines indented under it.
 */
export function parseResolvectlGlobal(text: string): string[] {
  // deno-lint-ignore no-control-regex
  const lines = text.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const start = lines.findIndex((l) => /^Global:/.test(l));
  if (start < 0) return [];
  const words = [lines[start].slice("Global:".length)];
  for (const l of lines.slice(start + 1)) {
    if (!/^\s+\S/.test(l)) break;
    words.push(l);
  }
  return words.join(" ").split(/\s+/).filter((w) => w !== "");
}

const list = (v: string | undefined) => (v ?? "").split(/\s+/).filter((w) => w !== "");
const orNull = (v: string | undefined) => (v === undefined || v === "" ? null : v);

/** `timedatectl show-timesync --all` and `timedatectl show` read together. */
export function parseTimesync(timesync: string, timedate: string | null): NtpInEffect {
  const p = parseKeyValues(timesync);
  const synced = timedate === null ? undefined : parseKeyValues(timedate).NTPSynchronized;
  return {
    running: true,
    servers: list(p.SystemNTPServers),
    fallback: list(p.FallbackNTPServers),
    serverName: orNull(p.ServerName),
    serverAddress: orNull(p.ServerAddress),
    synchronized: synced === "yes" ? true : synced === "no" ? false : null,
  };
}

/** Why `unit` cannot be asked, or undefined when it is running. */
export async function unitNotRunning(run: ToolRunner, unit: string): Promise<string | undefined> {
  const name = unit.replace(/\.service$/, "");
  let out: ToolOutput;
  try {
    out = await run("systemctl", ["show", "-p", "LoadState", "-p", "ActiveState", unit]);
  } catch (e) {
    return `${name}'s state cannot be read (${message(e)})`;
  }
  if (out.code !== 0) {
    return `${name}'s state cannot be read (systemctl: ${
      firstLine(out.stderr) || `exit ${out.code}`
    })`;
  }
  const p = parseKeyValues(out.stdout);
  const load = p.LoadState;
  const active = p.ActiveState;
  if (load === "not-found") return `${name} is not installed`;
  if (load === "masked") return `${name} is masked`;
  if (active === "active" || active === "reloading") return undefined;
  return `${name} is not running (${active ?? "state unknown"})`;
}

/** Runs a query; its stdout, or why it failed. */
async function query(run: ToolRunner, cmd: string, args: string[]): Promise<string | NotInEffect> {
  try {
    const out = await run(cmd, args);
    if (out.code === 0) return out.stdout;
    return {
      running: false,
      reason: `${cmd} ${args.join(" ")} failed: ${firstLine(out.stderr) || `exit ${out.code}`}`,
    };
  } catch (e) {
    return { running: false, reason: message(e) };
  }
}

/** systemd-resolved's global servers and search domains. */
export async function dnsInEffect(run: ToolRunner): Promise<DnsInEffect | NotInEffect> {
  const down = await unitNotRunning(run, "systemd-resolved.service");
  if (down !== undefined) return { running: false, reason: down };
  const dns = await query(run, "resolvectl", ["dns"]);
  if (typeof dns !== "string") return dns;
  const domain = await query(run, "resolvectl", ["domain"]);
  if (typeof domain !== "string") return domain;
  return {
    running: true,
    servers: parseResolvectlGlobal(dns),
    search: parseResolvectlGlobal(domain),
  };
}

/** systemd-timesyncd's servers, the one in use, and whether the clock is synchronized. */
export async function ntpInEffect(run: ToolRunner): Promise<NtpInEffect | NotInEffect> {
  const down = await unitNotRunning(run, "systemd-timesyncd.service");
  if (down !== undefined) return { running: false, reason: down };
  const timesync = await query(run, "timedatectl", ["show-timesync", "--all"]);
  if (typeof timesync !== "string") return timesync;
  // Synchronization comes from systemd-timedated; without it the rest still holds.
  const timedate = await query(run, "timedatectl", ["show", "-p", "NTPSynchronized"]);
  return parseTimesync(timesync, typeof timedate === "string" ? timedate : null);
}

/** The control op `networkInEffect`: `kind` checked, then read with `run`. */
export async function readInEffect(
  kind: unknown,
  run: ToolRunner = systemRunner,
): Promise<DnsInEffect | NtpInEffect | NotInEffect> {
  if (typeof kind !== "string" || !(IN_EFFECT_KINDS as readonly string[]).includes(kind)) {
    throw new ControlError(
      "invalid-argument",
      `networkInEffect takes one of ${IN_EFFECT_KINDS.join(", ")} (got ${JSON.stringify(kind)})`,
    );
  }
  return await (kind === "dns" ? dnsInEffect(run) : ntpInEffect(run));
}
