/**
 * What the daemon says about its own process (`daemonInfo`): the systemd unit read from the
 * environment systemd gives its units and from the cgroup path, and none for a daemon started
 * by hand, whatever its cgroup says.
 */
import assert from "node:assert/strict";
import { daemonProcess, systemdUnitOf } from "../../../src/daemon/process_info.ts";

const V2 = "0::/system.slice/fullnat.service\n";
const V1 = [
  "12:pids:/system.slice/fullnat.service",
  "1:name=systemd:/system.slice/fullnat.service",
  "0::/system.slice/fullnat.service",
  "",
].join("\n");

Deno.test("systemdUnitOf() names the unit of a process systemd started", () => {
  assert.equal(systemdUnitOf("5f3c0a", V2), "fullnat.service");
  assert.equal(systemdUnitOf("5f3c0a", V1), "fullnat.service");
  // A transient unit (systemd-run) is a unit too; a template instance keeps its instance name.
  assert.equal(systemdUnitOf("1", "0::/system.slice/run-u42.service\n"), "run-u42.service");
  assert.equal(
    systemdUnitOf("1", "0::/system.slice/system-fullnat.slice/fullnat@2.service\n"),
    "fullnat@2.service",
  );
  // Started by systemd, but the cgroup (a container, an unreadable file) does not say which unit.
  assert.equal(systemdUnitOf("1", "0::/\n"), "unknown unit");
  assert.equal(systemdUnitOf("1", ""), "unknown unit");
});

Deno.test("systemdUnitOf() says none without systemd's INVOCATION_ID, even in a unit's cgroup", () => {
  // A daemon started by hand from an SSH login lives in the session's scope, and a shell an
  // admin opened inside a service's cgroup is still not that service.
  assert.equal(systemdUnitOf(undefined, "0::/user.slice/user-0.slice/session-3.scope\n"), null);
  assert.equal(systemdUnitOf(undefined, V2), null);
  assert.equal(systemdUnitOf("", V2), null);
});

Deno.test("daemonProcess() reports this process", () => {
  const info = daemonProcess("/run/fullnat");
  assert.equal(info.pid, Deno.pid);
  assert.equal(info.runDir, "/run/fullnat");
  assert.equal(daemonProcess(null).runDir, null);
});
