/**
 * The DNS and NTP drop-ins followed by a restart of the service reading them: only the one
 * whose drop-in changed (written or removed), never for files outside systemd's own
 * directory, and a failed restart counted, logged and shown in the status.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../../../src/persist/mod.ts";
import type { NetworkConfig } from "../../../src/provision/types.ts";
import {
  serviceRunnerFor,
  servicesToTell,
  systemctlRunner,
} from "../../../src/hostnet/drop_in_services.ts";
import { HostNetwork } from "../../../src/hostnet/host_network.ts";

function network(section: unknown): NetworkConfig {
  return parseConfig(JSON.stringify({ version: 1, network: section, services: [] })).network!;
}

const BASE = {
  interfaces: { eth0: { addresses: ["198.51.100.1/24"] } },
  dns: { servers: ["198.51.100.53"], search: ["example.net"] },
  ntp: { servers: ["0.debian.pool.ntp.org"] },
};

Deno.test("servicesToTell(): the reader of each changed drop-in, nothing for .network files", () => {
  const dir = "/x/etc/systemd/network";
  assert.deepEqual(servicesToTell(dir, [join(dir, "10-fullnat-eth0.network")]), []);
  assert.deepEqual(
    servicesToTell(dir, ["/x/etc/systemd/resolved.conf.d/fullnat.conf"]).map((s) => s.unit),
    ["systemd-resolved.service"],
  );
  assert.deepEqual(
    servicesToTell(dir, [
      "/x/etc/systemd/timesyncd.conf.d/fullnat.conf",
      "/x/etc/systemd/resolved.conf.d/fullnat.conf",
    ]).map((s) => `${s.verb} ${s.unit}`),
    ["try-reload-or-restart systemd-resolved.service", "try-restart systemd-timesyncd.service"],
  );
  // Someone else's drop-in in the same directory is not ours to follow.
  assert.deepEqual(servicesToTell(dir, ["/x/etc/systemd/resolved.conf.d/other.conf"]), []);
});

Deno.test("serviceRunnerFor(): systemctl only for a managed host writing into /etc/systemd", () => {
  assert.equal(serviceRunnerFor(true, "/etc/systemd/network"), systemctlRunner);
  assert.equal(serviceRunnerFor(true, "/etc/systemd/network/"), systemctlRunner);
  assert.equal(serviceRunnerFor(false, "/etc/systemd/network"), null, "not managed");
  assert.equal(serviceRunnerFor(true, null), null, "no files");
  // The e2e tests' layout: a temporary directory shaped like /etc.
  assert.equal(serviceRunnerFor(true, "/tmp/x/etc/systemd/network"), null);
});

Deno.test("HostNetwork: restarts resolved or timesyncd only when its drop-in changed", async () => {
  const root = await Deno.makeTempDir();
  try {
    const ran: string[] = [];
    const logs: string[] = [];
    let fail = false;
    const host = new HostNetwork({
      manage: false,
      filesDir: join(root, "network"),
      keepalivedConf: join(root, "none.conf"),
      log: (m) => logs.push(m),
      restartService: (verb, unit) => {
        ran.push(`${verb} ${unit}`);
        return fail ? Promise.reject(new Error("Unit not loaded")) : Promise.resolve();
      },
    });
    await host.apply(network(BASE));
    assert.deepEqual(ran.splice(0), [
      "try-reload-or-restart systemd-resolved.service",
      "try-restart systemd-timesyncd.service",
    ]);
    // The same section again: no file differs, nothing is restarted.
    await host.apply(network(BASE));
    await host.follow([], true);
    assert.deepEqual(ran.splice(0), []);
    // An interface change rewrites a .network file only.
    await host.apply(
      network({ ...BASE, interfaces: { eth0: { addresses: ["198.51.100.2/24"] } } }),
    );
    assert.deepEqual(ran.splice(0), []);
    // New name servers: resolved only.
    await host.apply(network({ ...BASE, dns: { servers: ["198.51.100.54"], search: [] } }));
    assert.deepEqual(ran.splice(0), ["try-reload-or-restart systemd-resolved.service"]);
    // The NTP servers cleared: the drop-in goes, timesyncd restarts without it.
    await host.apply(
      network({ ...BASE, dns: { servers: ["198.51.100.54"], search: [] }, ntp: undefined }),
    );
    assert.deepEqual(ran.splice(0), ["try-restart systemd-timesyncd.service"]);
    await assert.rejects(
      Deno.stat(join(root, "timesyncd.conf.d/fullnat.conf")),
      Deno.errors.NotFound,
    );
    assert.equal(host.counters.servicesRestarted, 4);
    assert.deepEqual(logs, []);
    // A failed restart is not thrown at the change, but counted, logged and shown.
    fail = true;
    await host.apply(network(BASE));
    assert.equal(ran.length, 2);
    assert.equal(host.counters.serviceFailures, 2);
    assert.match(
      logs[0],
      /^network: systemd-resolved\.service did not take the new resolved\.conf\.d\/fullnat\.conf: Unit not loaded$/,
    );
    assert.match(host.status().problem ?? "", /systemd-timesyncd\.service did not take/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("HostNetwork: files outside /etc/systemd restart nothing by default", async () => {
  const root = await Deno.makeTempDir();
  try {
    const host = new HostNetwork({
      manage: false,
      filesDir: join(root, "etc/systemd/network"),
      keepalivedConf: join(root, "none.conf"),
      log: () => {},
    });
    await host.apply(network(BASE));
    assert.equal(host.counters.servicesRestarted + host.counters.serviceFailures, 0);
    // The drop-in directory the daemon made is readable by the services' own users.
    const st = await Deno.stat(join(root, "etc/systemd/resolved.conf.d"));
    assert.equal(st.mode! & 0o777, 0o755);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
