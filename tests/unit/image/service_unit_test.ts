/**
 * The appliance's service unit (image/rootfs/etc/systemd/system/fullnat.service, shipped as is
 * by image/configure.sh) against issue 13: systemd starts the daemon again within a second
 * whenever it ends (a crash, or `daemon restart`), and the sessions it left in the run
 * directory are still there for the new one. The boot test shows the same on a booted VM.
 */
import assert from "node:assert/strict";
import { defaultDaemonOptions } from "../../../src/daemon/options.ts";

const UNIT = new URL("../../../image/rootfs/etc/systemd/system/fullnat.service", import.meta.url);

/** The `[Section]`s of a unit file: each key's values in order (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  // A trailing backslash continues the line.
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[(.+)\]$/);
    if (header) {
      current = sections.get(header[1]) ?? new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === undefined || eq < 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...current.get(key) ?? [], line.slice(eq + 1).trim()]);
  }
  return sections;
}

const SPAN_UNITS: Record<string, number> = {
  us: 0.001,
  usec: 0.001,
  ms: 1,
  msec: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
};

/**
 * A systemd time span in milliseconds (systemd.time(7)): `200ms`, `0.5s`, `1min 30s`; a bare
 * number is seconds.
 */
function timeSpanMs(text: string): number {
  const parts = [...text.matchAll(/\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)/gy)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new Error(`not a systemd time span: '${text}'`);
  }
  return parts.reduce((sum, [, n, unit]) => {
    const scale = unit === "" ? 1000 : SPAN_UNITS[unit];
    if (scale === undefined) throw new Error(`unknown time unit '${unit}' in '${text}'`);
    return sum + Number(n) * scale;
  }, 0);
}

/** The last value of a key, as systemd takes it. */
function last(section: Map<string, string[]> | undefined, key: string): string | undefined {
  return section?.get(key)?.at(-1);
}

Deno.test("timeSpanMs() reads systemd's time spans", () => {
  assert.equal(timeSpanMs("200ms"), 200);
  assert.equal(timeSpanMs("0.5s"), 500);
  assert.equal(timeSpanMs("1"), 1000);
  assert.equal(timeSpanMs("1min 30s"), 90_000);
  assert.equal(timeSpanMs("1s 500ms"), 1500);
  assert.throws(() => timeSpanMs("soon"), /not a systemd time span/);
  assert.throws(() => timeSpanMs("5 fortnights"), /unknown time unit 'fortnights'/);
});

Deno.test("the shipped unit starts the daemon again within a second, keeping /run/fullnat", async () => {
  const service = parseUnit(await Deno.readTextFile(UNIT)).get("Service");
  assert.ok(service, "fullnat.service has a [Service] section");
  // `always`: `daemon restart` ends the daemon with status 0, which on-failure would not restart.
  assert.equal(last(service, "Restart"), "always");
  const restartSec = last(service, "RestartSec");
  assert.ok(restartSec !== undefined, "RestartSec is set (systemd's default is 100ms)");
  const ms = timeSpanMs(restartSec);
  assert.ok(ms < 1000, `RestartSec=${restartSec} is ${ms} ms, not under a second`);

  // The sessions are files in the run directory: systemd must not delete it between the runs.
  const runtime = last(service, "RuntimeDirectory");
  assert.equal(`/run/${runtime}`, defaultDaemonOptions(() => undefined).runDir);
  assert.ok(
    ["restart", "yes"].includes(last(service, "RuntimeDirectoryPreserve") ?? "no"),
    "RuntimeDirectoryPreserve=restart keeps the session files across an automatic restart",
  );
  const exec = last(service, "ExecStart") ?? "";
  assert.match(exec, /\bfullnat daemon\b/);
  assert.doesNotMatch(exec, /--no-run-dir|--run-dir/, "the sessions live in /run/fullnat");
  // The appliance's network is the daemon's to apply and to write for the next boot.
  assert.match(exec, /--manage-host-network\b/);
  assert.match(exec, /--host-network-dir \/etc\/systemd\/network\b/);
});
