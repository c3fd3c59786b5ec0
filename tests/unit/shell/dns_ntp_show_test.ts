/**
 * `dns show` and `ntp show`: the stored settings beside what systemd-resolved and
 * systemd-timesyncd have in effect (the daemon's `networkInEffect`), one line when the service
 * is not there to ask or the daemon cannot say, and `--json` with both.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dnsShowText } from "../../../src/shell/commands/dns.ts";
import { ntpShowText } from "../../../src/shell/commands/ntp.ts";
import { shellSession, startDaemon } from "./fixture.ts";

const DNS = { servers: ["198.51.100.53", "2001:db8:a::53"], search: ["example.net"] };

Deno.test("dnsShowText(): stored and in effect, a note when they differ, one line when stopped", () => {
  assert.equal(
    dnsShowText(DNS, { running: true, servers: DNS.servers, search: DNS.search }),
    [
      "servers            198.51.100.53, 2001:db8:a::53",
      "search             example.net",
      "servers in effect  198.51.100.53, 2001:db8:a::53",
      "search in effect   example.net",
    ].join("\n"),
  );
  const stale = { running: true as const, servers: ["192.0.2.1"], search: [] };
  assert.ok(
    dnsShowText(DNS, stale).endsWith(
      "servers in effect  192.0.2.1\nsearch in effect   none\nnote: systemd-resolved has other " +
        "settings than the stored ones (show log says why)",
    ),
  );
  const problem = "systemd-resolved.service did not take the new resolved.conf.d/fullnat.conf: " +
    "systemctl try-reload-or-restart systemd-resolved.service failed (exit 1): Access denied";
  assert.ok(
    dnsShowText(DNS, stale, problem).endsWith(
      "note: systemd-resolved has other settings than the stored ones; last problem: " + problem,
    ),
  );
  assert.equal(
    dnsShowText(undefined, {
      running: false,
      reason: "systemd-resolved is not running (inactive)",
    }),
    [
      "servers  not configured",
      "search   none",
      "systemd-resolved is not running (inactive): the settings are stored but not in effect",
    ].join("\n"),
  );
  assert.match(
    dnsShowText(DNS, { running: null, reason: "unknown op networkInEffect" }),
    /\nwhat is in effect is unknown: unknown op networkInEffect$/,
  );
});

Deno.test("ntpShowText(): servers, fallback, server in use, synchronized", () => {
  const live = {
    running: true as const,
    servers: ["0.debian.pool.ntp.org"],
    fallback: ["1.debian.pool.ntp.org"],
    serverName: "0.debian.pool.ntp.org",
    serverAddress: "192.0.2.1",
    synchronized: true,
  };
  assert.equal(
    ntpShowText({ servers: ["0.debian.pool.ntp.org"] }, live),
    [
      "servers            0.debian.pool.ntp.org",
      "servers in effect  0.debian.pool.ntp.org",
      "server in use      0.debian.pool.ntp.org (192.0.2.1)",
      "synchronized       yes",
    ].join("\n"),
  );
  assert.equal(
    ntpShowText(undefined, {
      ...live,
      servers: [],
      serverName: null,
      serverAddress: null,
      synchronized: null,
    }),
    [
      "servers            not configured",
      "servers in effect  none: falls back to 1.debian.pool.ntp.org",
      "server in use      none yet",
      "synchronized       unknown",
    ].join("\n"),
  );
  assert.ok(
    ntpShowText({ servers: ["192.0.2.123"] }, live, "systemd-timesyncd.service did not take it")
      .endsWith(
        "\nnote: systemd-timesyncd has other servers than the stored ones; last problem: " +
          "systemd-timesyncd.service did not take it",
      ),
  );
  assert.equal(
    ntpShowText(undefined, { running: false, reason: "systemd-timesyncd is masked" }),
    "servers  not configured\nsystemd-timesyncd is masked: the settings are stored but not in effect",
  );
});

Deno.test("dns show / ntp show in a session: the daemon's answer, --json, an older daemon", async () => {
  const asked: unknown[] = [];
  const d = await startDaemon({
    ops: () => ({
      networkInEffect: (kind) => {
        asked.push(kind);
        return kind === "dns"
          ? { running: true, servers: [], search: [] }
          : { running: false, reason: "systemd-timesyncd is not running (inactive)" };
      },
    }),
  });
  const s = shellSession(d.socket);
  try {
    let r = await s.run("dns show");
    assert.deepEqual([r.code, r.err], [0, ""]);
    assert.equal(
      r.out,
      "servers            not configured\nsearch             none\nservers in effect  none\nsearch in effect   none",
    );
    r = await s.run("dns show --json");
    assert.deepEqual(JSON.parse(r.out), {
      configured: null,
      inEffect: { running: true, servers: [], search: [] },
    });
    r = await s.run("ntp show");
    assert.deepEqual([r.code, r.err], [0, ""]);
    assert.equal(
      r.out,
      "servers  not configured\nsystemd-timesyncd is not running (inactive): the settings are stored but not in effect",
    );
    r = await s.run("ntp show --json");
    assert.deepEqual(JSON.parse(r.out).inEffect, {
      running: false,
      reason: "systemd-timesyncd is not running (inactive)",
    });
    assert.deepEqual(asked, ["dns", "dns", "ntp", "ntp"]);
  } finally {
    await s.close();
    await d.dispose();
  }
  // A daemon without the op: the stored settings and one line, status 0.
  const old = await startDaemon();
  const s2 = shellSession(old.socket);
  try {
    const r = await s2.run("dns show");
    assert.deepEqual([r.code, r.err], [0, ""]);
    assert.match(r.out, /\nwhat is in effect is unknown: .*networkInEffect/);
  } finally {
    await s2.close();
    await old.dispose();
  }
});
