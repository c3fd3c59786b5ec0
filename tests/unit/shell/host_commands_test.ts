/**
 * The commands that act on the machine (`show log`, `ping`, `traceroute`, `show version`,
 * `reboot`, `shutdown`) against a fake host: the exact argv each passes, values that could
 * pass for options refused before anything runs, output passed through unchanged, and the
 * confirmation of reboot/shutdown. Nothing runs on (or reboots) the test machine.
 */
import assert from "node:assert/strict";
import { FakeHost, shellSession, startDaemon } from "./fixture.ts";
import { journalctlArgv, parseSince } from "../../../src/shell/commands/log.ts";
import { formatDuration } from "../../../src/shell/commands/version.ts";
import { hostPowerOp } from "../../../src/daemon/host_power.ts";

async function withHost(
  fn: (s: ReturnType<typeof shellSession>, host: FakeHost) => Promise<void>,
  ops?: Record<string, (...a: unknown[]) => unknown>,
): Promise<void> {
  const daemon = await startDaemon({ ops: () => ops ?? {} });
  const host = new FakeHost();
  const s = shellSession(daemon.socket, undefined, host);
  try {
    await fn(s, host);
  } finally {
    await s.close();
    await daemon.dispose();
  }
}

Deno.test("show log builds journalctl's argv from checked values only", () =>
  withHost(async (s, host) => {
    host.answers.set("journalctl", { out: "line 1\nline 2\n" });
    const r = await s.run("show log");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "line 1\nline 2");
    assert.deepEqual(host.runs.at(-1), [
      "journalctl",
      "--no-pager",
      "--output=short-iso",
      "--lines=100",
      "--unit=fullnat.service",
    ]);
    await s.run('show log --unit all --since 30m --grep "conn.*reset" --lines 5 --follow');
    assert.deepEqual(host.runs.at(-1), [
      "journalctl",
      "--no-pager",
      "--output=short-iso",
      "--lines=5",
      "--unit=fullnat.service",
      "--unit=fullnat-provision.service",
      "--unit=keepalived.service",
      "--since=-30min",
      "--grep=conn.*reset",
      "--follow",
    ]);
    const runs = host.runs.length;
    for (
      const bad of [
        "show log --unit sshd",
        "show log --since '-1h; reboot'",
        "show log --since 1y",
        "show log --lines 0",
        "show log --lines 1x",
      ]
    ) {
      const r = await s.run(bad);
      assert.equal(r.code, 2, bad);
    }
    assert.equal(host.runs.length, runs, "nothing ran for a refused value");
    host.answers.set("journalctl", { err: "No journal files were found.\n", status: 1 });
    const failed = await s.run("show log --unit provision");
    assert.equal(failed.code, 1);
    assert.match(
      failed.err,
      /No journal files were found\.\nerror: journalctl exited with status 1/,
    );
  }));

Deno.test("show log --since takes journalctl's words for times", () => {
  assert.equal(parseSince("2h"), "-2h");
  assert.equal(parseSince("1d"), "-1d");
  assert.equal(parseSince("today"), "today");
  assert.equal(parseSince("2026-12-06 14:30"), "2026-12-06 14:30");
  assert.equal(parseSince("2026-12-06T14:30:05"), "2026-12-06 14:30:05");
  assert.throws(() => parseSince("--since"));
  assert.deepEqual(
    journalctlArgv({ unit: "keepalived", lines: 1, follow: false }).at(-1),
    "--unit=keepalived.service",
  );
});

Deno.test("ping and traceroute: bounded, numeric, and nothing that reads as an option", () =>
  withHost(async (s, host) => {
    assert.equal((await s.run("ping 192.0.2.1")).code, 0);
    assert.deepEqual(host.runs.at(-1), [
      "ping",
      "-n",
      "-c",
      "5",
      "-W",
      "2",
      "-w",
      "7",
      "192.0.2.1",
    ]);
    await s.run("ping 2001:DB8::1 -c 3 -I eth1");
    assert.deepEqual(host.runs.at(-1), [
      "ping",
      "-n",
      "-c",
      "3",
      "-W",
      "2",
      "-w",
      "5",
      "-I",
      "eth1",
      "2001:db8::1",
    ]);
    await s.run("traceroute gw.example.net -m 8 -I eth0.100");
    assert.deepEqual(host.runs.at(-1), [
      "traceroute",
      "-n",
      "-q",
      "2",
      "-w",
      "2",
      "-m",
      "8",
      "-i",
      "eth0.100",
      "gw.example.net",
    ]);
    const runs = host.runs.length;
    for (
      const bad of [
        "ping -- -f",
        "ping 192.0.2.1 -c 101",
        "ping 192.0.2.1 -c 0",
        "ping 192.0.2.1 -I ../x",
        "ping 192.0.2.1 -I averyveryverylongname",
        "ping 'a b'",
        "traceroute 192.0.2.1 -m 65",
        "traceroute -- -x",
      ]
    ) {
      assert.equal((await s.run(bad)).code, 2, bad);
    }
    assert.equal(host.runs.length, runs);
    host.answers.set("ping", { out: "no reply\n", status: 1 });
    const r = await s.run("ping 192.0.2.9 -c 1");
    assert.equal(r.code, 1);
    assert.equal(r.out, "no reply");
  }));

Deno.test("a running program stops on Ctrl-C (interrupt) and the shell goes on", () =>
  withHost(async (s, host) => {
    host.waitForAbort = true;
    const running = s.run("show log --follow");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.ctx.interrupt(), true);
    const r = await running;
    assert.equal(r.code, 1);
    assert.equal(s.ctx.interrupt(), false, "nothing runs any more");
  }));

Deno.test("show version: release file, code version, uptimes", () =>
  withHost(async (s, host) => {
    host.files.set(host.paths.release, "VERSION=v1.2-3-gabc\nBUILT=2026-12-06T10:00:00Z\n");
    host.files.set(host.paths.osRelease, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n');
    host.files.set(host.paths.uptime, "93784.21 100.00\n");
    host.files.set(host.paths.codeVersion, "v1.2-3-gabc\n");
    const r = await s.run("show version");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^image\s+fullnat v1\.2-3-gabc, built 2026-12-06T10:00:00Z$/m);
    assert.match(r.out, /^code\s+v1\.2-3-gabc$/m);
    assert.match(r.out, /^os\s+Debian GNU\/Linux 12 \(bookworm\)$/m);
    assert.match(r.out, /^uptime\s+1 d 02:03:04$/m);
    assert.match(r.out, new RegExp(`^deno\\s+${Deno.version.deno.replaceAll(".", "\\.")} `, "m"));
    assert.match(r.out, /^daemon\s+pid \d+, up \d\d:\d\d:\d\d \(since /m);

    host.files.clear();
    host.answers.set("git", { out: "abc123-dirty\n", status: 0 });
    const j = JSON.parse((await s.run("show version --json")).out);
    assert.equal(j.image, null);
    assert.equal(j.code, "abc123-dirty (checkout)");
    assert.deepEqual(host.runs.at(-1), [
      "git",
      "-C",
      "/fake/code/",
      "describe",
      "--always",
      "--dirty",
    ]);
    assert.equal(formatDuration(59), "00:00:59");
  }, { daemonInfo: () => ({ pid: 42, startedAt: new Date(Date.now() - 3000).toISOString() }) }));

Deno.test("reboot/shutdown: asked at a terminal, --yes elsewhere, done by the daemon", async () => {
  const asked: unknown[] = [];
  await withHost(async (s, host) => {
    const no = await s.run("reboot");
    assert.equal(no.code, 2);
    assert.match(no.err, /add --yes/);
    assert.deepEqual(asked, []);

    s.ctx.ask = () => Promise.resolve("n");
    assert.match((await s.run("shutdown")).out, /nothing done/);
    assert.deepEqual(asked, []);
    s.ctx.ask = (q) => {
      assert.match(q, /^reboot .* now\? .*\[y\/N\] $/);
      return Promise.resolve("yes");
    };
    const r = await s.run("reboot");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^rebooting .* \(the daemon ran systemctl reboot\)$/);
    s.ctx.ask = undefined;
    assert.equal((await s.run("shutdown --yes")).code, 0);
    assert.deepEqual(asked, ["reboot", "poweroff"]);
    assert.deepEqual(host.runs, [], "the shell ran nothing itself");
  }, { hostPower: (what) => (asked.push(what), { action: what }) });
});

Deno.test("reboot without a daemon runs systemctl itself", async () => {
  const host = new FakeHost();
  const s = shellSession("/nonexistent/control.sock", undefined, host);
  try {
    const r = await s.run("reboot --yes");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /no daemon answered: running systemctl reboot/);
    assert.deepEqual(host.runs, [["systemctl", "reboot"]]);
  } finally {
    await s.close();
  }
});

Deno.test("the daemon's hostPower op checks its argument and runs systemctl after answering", async () => {
  const ran: string[][] = [];
  const logs: string[] = [];
  const op = hostPowerOp((m) => logs.push(m), (argv) => (ran.push(argv), Promise.resolve(0)), 10);
  assert.throws(() => op("halt; rm -rf /"), /takes "reboot" or "poweroff"/);
  assert.deepEqual(op("poweroff"), { action: "poweroff" });
  assert.deepEqual(ran, [], "not before the answer is sent");
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(ran, [["systemctl", "poweroff"]]);
  assert.match(logs[0], /poweroff asked for/);
});

Deno.test("capture: values checked in the shell, show writes the file unchanged, never to a terminal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-capture-show-" });
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
  await Deno.writeFile(`${dir}/a.pcap`, bytes);
  const started: unknown[] = [];
  try {
    await withHost(async (s, host) => {
      const r = await s.run(
        'capture start -i eth1 --count 100 --size 2 "tcp port 80" and host 192.0.2.1',
      );
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(started, [{
        interface: "eth1",
        filter: ["tcp", "port", "80", "and", "host", "192.0.2.1"],
        packets: 100,
        megabytes: 2,
      }]);
      for (
        const bad of [
          "capture start",
          "capture start -i ../eth0",
          "capture start -i eth0 --size 0",
          "capture start -i eth0 --name ../x",
          "capture show ../../etc/shadow",
          "capture show a/b",
          "capture delete ..",
        ]
      ) {
        assert.equal((await s.run(bad)).code, 2, bad);
      }
      assert.equal(started.length, 1);

      s.io.raw = [];
      const shown = await s.run("capture show a");
      assert.equal(shown.code, 0, shown.err);
      const out = new Uint8Array(s.io.raw.reduce((n, b) => n + b.length, 0));
      let o = 0;
      for (const b of s.io.raw) out.set(b, (o += b.length) - b.length);
      assert.deepEqual(out, bytes);
      assert.match((await s.run("capture show b.pcap")).err, /no capture file b\.pcap/);
      host.terminal = true;
      const tty = await s.run("capture show a.pcap");
      assert.equal(tty.code, 2);
      assert.match(tty.err, /binary \(pcap\): send it to a file/);
    }, {
      captureStart: (req) => {
        started.push(req);
        return { name: "eth1-x.pcap", interface: "eth1", running: true, bytes: 0 };
      },
      captureList: () => ({
        dir,
        files: [{ name: "a.pcap", bytes: bytes.length, running: false, modified: "" }],
      }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
