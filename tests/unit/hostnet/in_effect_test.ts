/**
 * Reading what systemd-resolved and systemd-timesyncd have in effect: the tools' output
 * (captured from systemd 252, Debian 12) parsed, and every way of not being able to ask (tool
 * missing, no systemd, service stopped or not installed, a query failing) answered in one
 * reason, without asking a stopped service (that would start it through D-Bus activation).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ntpInEffect,
  parseResolvectlGlobal,
  parseTimesync,
  readInEffect,
  type ToolOutput,
  type ToolRunner,
} from "../../../src/hostnet/in_effect.ts";
import { parseKeyValues } from "../../../src/system/slots.ts";

const RESOLVECTL_DNS = `Global: 198.51.100.53 2001:db8:a::53
Link 2 (eth0):
Link 3 (eth1):
`;

// Too long for the terminal: resolvectl goes on in lines indented under "Global: ".
const RESOLVECTL_DNS_WRAPPED = `Global: 198.51.100.53 198.51.100.54
        2001:db8:a::53#dns.example.net
Link 2 (eth0): 192.0.2.1
`;

const RESOLVECTL_DOMAIN = `Global: example.net ~corp.example
Link 2 (eth0):
`;

const TIMESYNC = `LinkNTPServers=
SystemNTPServers=0.debian.pool.ntp.org 192.0.2.123
RuntimeNTPServers=
FallbackNTPServers=0.debian.pool.ntp.org 1.debian.pool.ntp.org 2.debian.pool.ntp.org 3.debian.pool.ntp.org
ServerName=0.debian.pool.ntp.org
ServerAddress=192.0.2.1
RootDistanceMaxUSec=5s
PollIntervalMinUSec=32s
PollIntervalMaxUSec=34min 8s
PollIntervalUSec=2min 8s
NTPMessage={ Leap=0, Version=4, Mode=4, Stratum=2, Precision=-24, RootDelay=1.266ms, RootDispersion=30.456ms, Reference=C0000201, OriginateTimestamp=Sun 2026-12-06 19:40:01 UTC, Ignored=no, PacketCount=3, Jitter=1.137ms }
Frequency=-1893215
`;

// Started with no server configured and none reached yet.
const TIMESYNC_FALLBACK = `LinkNTPServers=
SystemNTPServers=
RuntimeNTPServers=
FallbackNTPServers=0.debian.pool.ntp.org 1.debian.pool.ntp.org
ServerName=
ServerAddress=
RootDistanceMaxUSec=5s
`;

const NO_SYSTEMD = "System has not been booted with systemd as init system (PID 1). Can't " +
  "operate.\nFailed to connect to bus: Host is down\n";

Deno.test("resolvectl dns/domain: the Global entry, wrapped lines joined, links left out", () => {
  assert.deepEqual(parseResolvectlGlobal(RESOLVECTL_DNS), ["198.51.100.53", "2001:db8:a::53"]);
  assert.deepEqual(parseResolvectlGlobal(RESOLVECTL_DNS_WRAPPED), [
    "198.51.100.53",
    "198.51.100.54",
    "2001:db8:a::53#dns.example.net",
  ]);
  assert.deepEqual(parseResolvectlGlobal(RESOLVECTL_DOMAIN), ["example.net", "~corp.example"]);
  assert.deepEqual(parseResolvectlGlobal("Global:\nLink 2 (eth0): 192.0.2.1\n"), []);
  // Colours, should a terminal setting force them.
  assert.deepEqual(parseResolvectlGlobal("\x1b[0;1;39mGlobal\x1b[0m: 192.0.2.53\n"), [
    "192.0.2.53",
  ]);
  assert.deepEqual(parseResolvectlGlobal(""), []);
});

Deno.test("timedatectl show-timesync --all / show: servers, fallback, server in use, sync", () => {
  assert.deepEqual(parseTimesync(TIMESYNC, "NTPSynchronized=yes\n"), {
    running: true,
    servers: ["0.debian.pool.ntp.org", "192.0.2.123"],
    fallback: [
      "0.debian.pool.ntp.org",
      "1.debian.pool.ntp.org",
      "2.debian.pool.ntp.org",
      "3.debian.pool.ntp.org",
    ],
    serverName: "0.debian.pool.ntp.org",
    serverAddress: "192.0.2.1",
    synchronized: true,
  });
  const idle = parseTimesync(TIMESYNC_FALLBACK, "NTPSynchronized=no\n");
  assert.deepEqual(
    [idle.servers, idle.serverName, idle.serverAddress, idle.synchronized],
    [[], null, null, false],
  );
  assert.equal(parseTimesync(TIMESYNC, null).synchronized, null, "timedated not answering");
  // A value holding "=" (NTPMessage) stays whole.
  assert.match(parseKeyValues(TIMESYNC).NTPMessage ?? "", /^\{ Leap=0, .* \}$/);
});

/** A machine answering each argv (joined by spaces) as told; records what ran. */
function fakeTools(answers: Record<string, Partial<ToolOutput> | Error>) {
  const ran: string[] = [];
  const run: ToolRunner = (cmd, args) => {
    const line = [cmd, ...args].join(" ");
    ran.push(line);
    const a = answers[line];
    if (a instanceof Error) return Promise.reject(a);
    if (a === undefined) return Promise.reject(new Error(`${cmd} is not installed`));
    return Promise.resolve({ code: 0, stdout: "", stderr: "", ...a });
  };
  return { run, ran };
}

const SHOW_RESOLVED = "systemctl show -p LoadState -p ActiveState systemd-resolved.service";
const SHOW_TIMESYNCD = "systemctl show -p LoadState -p ActiveState systemd-timesyncd.service";
const RUNNING = { stdout: "LoadState=loaded\nActiveState=active\n" };

Deno.test("readInEffect(): a running resolved and timesyncd are asked and parsed", async () => {
  const t = fakeTools({
    [SHOW_RESOLVED]: RUNNING,
    "resolvectl dns": { stdout: RESOLVECTL_DNS },
    "resolvectl domain": { stdout: RESOLVECTL_DOMAIN },
    [SHOW_TIMESYNCD]: RUNNING,
    "timedatectl show-timesync --all": { stdout: TIMESYNC },
    "timedatectl show -p NTPSynchronized": { stdout: "NTPSynchronized=yes\n" },
  });
  assert.deepEqual(await readInEffect("dns", t.run), {
    running: true,
    servers: ["198.51.100.53", "2001:db8:a::53"],
    search: ["example.net", "~corp.example"],
  });
  const ntp = await ntpInEffect(t.run);
  assert.ok(ntp.running);
  assert.deepEqual([ntp.serverName, ntp.synchronized], ["0.debian.pool.ntp.org", true]);
  // timedated not answering: the rest still holds.
  const noTimedated = fakeTools({
    [SHOW_TIMESYNCD]: RUNNING,
    "timedatectl show-timesync --all": { stdout: TIMESYNC },
    "timedatectl show -p NTPSynchronized": { code: 1, stderr: "Failed to query server\n" },
  });
  const partial = await ntpInEffect(noTimedated.run);
  assert.ok(partial.running);
  assert.equal(partial.synchronized, null);
});

Deno.test("readInEffect(): each way of not being able to ask is one reason, nothing started", async () => {
  const cases: [Record<string, Partial<ToolOutput> | Error>, string][] = [
    [
      { [SHOW_RESOLVED]: { stdout: "LoadState=loaded\nActiveState=inactive\n" } },
      "systemd-resolved is not running (inactive)",
    ],
    [
      { [SHOW_RESOLVED]: { stdout: "LoadState=loaded\nActiveState=failed\n" } },
      "systemd-resolved is not running (failed)",
    ],
    [
      { [SHOW_RESOLVED]: { stdout: "LoadState=not-found\nActiveState=inactive\n" } },
      "systemd-resolved is not installed",
    ],
    [
      { [SHOW_RESOLVED]: { stdout: "LoadState=masked\nActiveState=inactive\n" } },
      "systemd-resolved is masked",
    ],
    [
      { [SHOW_RESOLVED]: { code: 1, stderr: NO_SYSTEMD } },
      "systemd-resolved's state cannot be read (systemctl: System has not been booted with " +
      "systemd as init system (PID 1). Can't operate.)",
    ],
    [
      { [SHOW_RESOLVED]: new Error("systemctl is not installed; install the systemd package") },
      "systemd-resolved's state cannot be read (systemctl is not installed; install the " +
      "systemd package)",
    ],
    [{ [SHOW_RESOLVED]: RUNNING }, "resolvectl is not installed"],
    [
      {
        [SHOW_RESOLVED]: RUNNING,
        "resolvectl dns": { code: 1, stderr: "Failed to get global data: Connection timed out\n" },
      },
      "resolvectl dns failed: Failed to get global data: Connection timed out",
    ],
  ];
  for (const [answers, reason] of cases) {
    const t = fakeTools(answers);
    assert.deepEqual(await readInEffect("dns", t.run), { running: false, reason });
    if (!reason.startsWith("resolvectl")) {
      assert.deepEqual(t.ran, [SHOW_RESOLVED], `${reason}: resolvectl is not run`);
    }
  }
  const t = fakeTools({ [SHOW_TIMESYNCD]: { stdout: "LoadState=loaded\nActiveState=inactive\n" } });
  assert.deepEqual(await readInEffect("ntp", t.run), {
    running: false,
    reason: "systemd-timesyncd is not running (inactive)",
  });
  assert.deepEqual(t.ran, [SHOW_TIMESYNCD]);
  await assert.rejects(readInEffect("routes", t.run), /networkInEffect takes one of dns, ntp/);
});
