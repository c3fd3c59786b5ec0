/**
 * `show version`: what runs on this box. The image's version (the release file the image
 * build writes, `/etc/fullnat-release`), the code's (the `VERSION` file the build puts beside
 * main.ts, or `git describe` in a checkout), Deno's, the distribution and kernel, how long the
 * box has been up, and the daemon's pid and uptime (asked of the daemon; a daemon that does not
 * answer is said so, the rest is still printed).
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import type { Host } from "../host.ts";
import { renderPairs } from "../table.ts";

/** `KEY=value` lines (os-release syntax, values optionally quoted). */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

/** Seconds as `3 d 04:05:06` (days only when there are some). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60]
    .map((n) => String(n).padStart(2, "0")).join(":");
  return d > 0 ? `${d} d ${hms}` : hms;
}

/** What `show version` reports (also its `--json`). */
export interface VersionReport {
  image: { version: string; built: string | null } | null;
  code: string;
  deno: string;
  v8: string;
  os: string | null;
  kernel: string;
  uptimeSeconds: number | null;
  daemon: { pid: number; startedAt: string; uptimeSeconds: number } | { error: string };
}

async function codeVersion(host: Host, release: Record<string, string>): Promise<string> {
  const file = (await host.readText(host.paths.codeVersion))?.trim();
  if (file) return file;
  const git = await host.output([
    "git",
    "-C",
    host.paths.codeDir,
    "describe",
    "--always",
    "--dirty",
  ]);
  if (git.code === 0 && git.stdout.trim() !== "") return `${git.stdout.trim()} (checkout)`;
  return release.VERSION ?? "unknown";
}

/** Gathers the report. */
export async function versionReport(
  ctx: CommandContext,
  daemonInfo: () => Promise<unknown>,
  now: number = Date.now(),
): Promise<VersionReport> {
  const host = ctx.host;
  const releaseText = await host.readText(host.paths.release);
  const release = releaseText === undefined ? {} : parseKeyValues(releaseText);
  const os = parseKeyValues((await host.readText(host.paths.osRelease)) ?? "");
  const up = Number(((await host.readText(host.paths.uptime)) ?? "").split(/\s/)[0]);
  let daemon: VersionReport["daemon"];
  try {
    const info = await daemonInfo() as { pid?: unknown; startedAt?: unknown };
    if (typeof info?.pid !== "number") throw new Error("its daemonInfo answer has no pid");
    const startedAt = typeof info.startedAt === "string" ? info.startedAt : "";
    daemon = {
      pid: info.pid,
      startedAt,
      uptimeSeconds: startedAt === "" ? NaN : (now - Date.parse(startedAt)) / 1000,
    };
  } catch (e) {
    daemon = { error: e instanceof Error ? e.message : String(e) };
  }
  return {
    image: releaseText === undefined
      ? null
      : { version: release.VERSION ?? "unknown", built: release.BUILT ?? null },
    code: await codeVersion(host, release),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: os.PRETTY_NAME ?? null,
    kernel: Deno.osRelease(),
    uptimeSeconds: Number.isFinite(up) ? up : null,
    daemon,
  };
}

/** The report as `name  value` lines. */
export function formatVersion(r: VersionReport): string {
  const daemon = "error" in r.daemon
    ? `not answering: ${r.daemon.error}`
    : `pid ${r.daemon.pid}, up ${
      Number.isFinite(r.daemon.uptimeSeconds) ? formatDuration(r.daemon.uptimeSeconds) : "?"
    }${r.daemon.startedAt ? ` (since ${r.daemon.startedAt})` : ""}`;
  return renderPairs([
    [
      "image",
      r.image === null
        ? "not the appliance image (no release file)"
        : `fullnat ${r.image.version}${r.image.built ? `, built ${r.image.built}` : ""}`,
    ],
    ["code", r.code],
    ["deno", `${r.deno} (V8 ${r.v8})`],
    ["os", r.os ?? "unknown"],
    ["kernel", r.kernel],
    ["uptime", r.uptimeSeconds === null ? "unknown" : formatDuration(r.uptimeSeconds)],
    ["daemon", daemon],
  ]);
}

/** Adds `version` under `show`. */
export function addVersionCommand(ctx: CommandContext, show: Command): void {
  jsonOption(leaf(ctx, show, "version", "image, code, Deno and kernel versions; uptimes"))
    .action(action(ctx, async ({ opts, control }) => {
      const report = await versionReport(ctx, async () => (await control()).call("daemonInfo"));
      if (opts.json) printJson(ctx, report);
      else ctx.io.out(formatVersion(report));
    }));
}
