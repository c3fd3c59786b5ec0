/**
 * The admin commands run inside a shell session against an in-process daemon over its real
 * control socket: what each command changes in the engine, what it prints (tables and JSON),
 * and the message and status of every kind of mistake.
 */
import assert from "node:assert/strict";
import { ipv4 } from "../../../testkit/packet_builder.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { runLine } from "../../../src/shell/dispatch.ts";
import { createContext } from "../../../src/shell/runtime.ts";
import { buildShellTree } from "../../../src/shell/tree.ts";
import {
  Captured,
  inProcessConnector,
  shellSession,
  startDaemon,
  type TestDaemon,
} from "./fixture.ts";

const VIP = "198.51.100.10";
const RS1 = "203.0.113.11";
const RS2 = "203.0.113.12";
const LIP = "203.0.113.201";
const CLIENT = "198.51.100.2";

async function withShell(
  fn: (s: ReturnType<typeof shellSession>, d: TestDaemon) => Promise<void>,
  options: Parameters<typeof startDaemon>[0] = {},
) {
  const d = await startDaemon(options);
  const s = shellSession(d.socket);
  try {
    await fn(s, d);
  } finally {
    await s.close();
    await d.dispose();
  }
}

/** Adds the usual service with two real servers and a local address. */
async function provision(s: ReturnType<typeof shellSession>) {
  for (
    const line of [
      `service add tcp ${VIP}:80 -s rr`,
      `rs add tcp ${VIP}:80 ${RS1}:80 -w 2`,
      `rs add tcp ${VIP}:80 ${RS2}:8080 --method fullnat`,
      `laddr add tcp ${VIP}:80 ${LIP}`,
    ]
  ) {
    const r = await s.run(line);
    assert.deepEqual([r.code, r.err], [0, ""], line);
  }
}

Deno.test("service add/list/show/edit/delete change the engine and print tables", () =>
  withShell(async (s, d) => {
    await provision(s);
    const [svc] = d.control.listServices();
    assert.equal(svc.scheduler, "rr");
    assert.deepEqual(svc.realServers.map((r) => [r.address, r.port, r.weight]), [
      [RS1, 80, 2],
      [RS2, 8080, 1],
    ]);

    const list = await s.run("service list");
    assert.equal(list.code, 0);
    assert.equal(
      list.out,
      [
        "PROTO  VIRTUAL           SCHED  PERSIST  TOA  STRIP-TS  CLAMP-MSS  RS  LADDRS  CONNS",
        "tcp    198.51.100.10:80  rr           0  on   on        on          2       1      0",
      ].join("\n"),
    );

    const shown = await s.run(`service show tcp ${VIP}:80`);
    assert.match(shown.out, /^service +tcp 198\.51\.100\.10:80$/m);
    assert.match(shown.out, /^ {2}203\.0\.113\.12:8080 +fullnat +1 +0 +0 +0$/m);
    assert.match(shown.out, /^ {2}203\.0\.113\.201 +0 +0$/m);

    const edit = await s.run(`service edit tcp ${VIP}:80 --persistence 300 -s wrr`);
    assert.equal(edit.code, 0);
    assert.deepEqual(
      [d.control.listServices()[0].scheduler, d.control.listServices()[0].persistence],
      ["wrr", 300],
    );

    const json = JSON.parse((await s.run("show services --json")).out);
    assert.equal(json[0].persistence, 300);
    assert.equal(json[0].realServers.length, 2);

    assert.equal((await s.run(`service delete tcp ${VIP}:80`)).code, 0);
    assert.equal(d.control.listServices().length, 0);
    assert.equal(
      (await s.run("service list")).out,
      "no services (add one with: service add tcp VIP:PORT)",
    );
  }));

Deno.test("rs edit/delete and laddr delete reach the engine; listings narrow to one service", () =>
  withShell(async (s, d) => {
    await provision(s);
    await s.run(`service add udp ${VIP}:53`);
    assert.equal((await s.run(`rs edit tcp ${VIP}:80 ${RS1}:80 -w 0 -m nat`)).code, 0);
    const rs1 = d.control.listServices().find((x) => x.protocol === "tcp")!.realServers[0];
    assert.deepEqual([rs1.weight, rs1.method], [0, "nat"]);

    const rsList = await s.run(`rs list tcp ${VIP}:80`);
    assert.equal(rsList.out.split("\n").length, 3, rsList.out);
    assert.match(rsList.out, /^tcp 198\.51\.100\.10:80 +203\.0\.113\.11:80 +nat +0 +0 +0 +0$/m);
    assert.equal(JSON.parse((await s.run("rs list --json")).out).length, 2);
    assert.match((await s.run(`rs list udp ${VIP}:53`)).out, /^no real servers/);

    assert.equal((await s.run(`rs delete tcp ${VIP}:80 ${RS2}:8080`)).code, 0);
    assert.equal(d.control.listServices()[0].realServers.length, 1);

    const lj = JSON.parse((await s.run("laddr list --json")).out);
    assert.deepEqual(lj.map((l: { address: string }) => l.address), [LIP]);
    assert.equal((await s.run(`laddr delete tcp ${VIP}:80 ${LIP}`)).code, 0);
    assert.match((await s.run("laddr list")).out, /^no local addresses/);
  }));

Deno.test("service add/edit map --[no-]toa, --[no-]strip-timestamps, --[no-]clamp-mss", async () => {
  // The engine's own control object, reached without the socket (see inProcessConnector).
  const control = new EngineControl(new Engine({ clock: () => 0, capacity: 16 }));
  const io = new Captured();
  const ctx = createContext({
    mode: "shell",
    socket: "unused",
    io,
    connect: inProcessConnector(control),
  });
  const tweaks = () => {
    const [svc] = control.listServices();
    return [svc.toa, svc.stripTimestamps, svc.clampMss];
  };
  assert.equal(
    await runLine(`service add tcp ${VIP}:80 --no-toa --no-strip-timestamps`, ctx, buildShellTree),
    0,
  );
  assert.deepEqual(tweaks(), [false, false, true]);
  assert.equal(
    await runLine(`service edit tcp ${VIP}:80 --toa --no-clamp-mss`, ctx, buildShellTree),
    0,
  );
  assert.deepEqual(tweaks(), [true, false, false]);
  assert.equal(
    await runLine(`service edit tcp ${VIP}:80 -p 60 --strip-timestamps`, ctx, buildShellTree),
    0,
  );
  assert.deepEqual(tweaks(), [true, true, false]);
  assert.equal(control.listServices()[0].persistence, 60);
  assert.deepEqual(io.stderr, []);
  await ctx.close();
});

Deno.test("conn list shows sessions and filters them by service and client", () =>
  withShell(async (s, d) => {
    await provision(s);
    await s.run(`service add tcp ${VIP}:443`);
    await s.run(`rs add tcp ${VIP}:443 ${RS1}:443`);
    await s.run(`laddr add tcp ${VIP}:443 ${LIP}`);
    const syn = (src: string, sport: number, dport: number) => {
      const p = ipv4({ src, dst: VIP }).tcp({ sport, dport, flags: "S", seq: 1 }).build();
      d.engine.handle(p, 0, p.length, p.length);
    };
    syn(CLIENT, 40001, 80);
    syn(CLIENT, 40002, 443);
    syn("198.51.100.3", 40003, 80);
    assert.equal(d.control.listConnections().length, 3);

    const all = await s.run("conn list");
    assert.equal(all.out.split("\n").length, 4, all.out);
    assert.match(all.out, /^PROTO +STATE +EXPIRES +CLIENT +VIRTUAL +LOCAL +REAL SERVER +METHOD$/m);
    assert.match(
      all.out,
      /^tcp +SYN_RECV +\d+s +198\.51\.100\.2:40001 +198\.51\.100\.10:80 +203\.0\.113\.201:5\d{3} +203\.0\.113\.1[12]:80 +fullnat$/m,
    );

    const one = JSON.parse(
      (await s.run(`conn list --service ${VIP}:80 --client ${CLIENT} --json`)).out,
    );
    assert.deepEqual(one.map((c: { client: { port: number } }) => c.client.port), [40001]);
    const byPort = JSON.parse((await s.run(`show connections --service ${VIP}:443 --json`)).out);
    assert.deepEqual(byPort.map((c: { client: { port: number } }) => c.client.port), [40002]);
    assert.equal((await s.run("conn list --client 192.0.2.99")).out, "no connections");
  }));

Deno.test("persistence: --persistence-mask, templates in conn list and rs list, tunable set", () =>
  withShell(async (s, d) => {
    await provision(s);
    const edit = await s.run(`service edit tcp ${VIP}:80 -p 300 --persistence-mask 255.255.255.0`);
    assert.deepEqual([edit.code, edit.err], [0, ""]);
    assert.equal(d.control.listServices()[0].persistenceMask, 24);
    assert.match((await s.run(`service show tcp ${VIP}:80`)).out, /^persistence mask +\/24$/m);
    const bad = await s.run(`service edit tcp ${VIP}:80 --persistence-mask 64`);
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, /Persistence mask must be a prefix length from 0 to 32 for an IPv4/);
    const notMask = await s.run(`service edit tcp ${VIP}:80 --persistence-mask 255.0.255.0`);
    assert.equal(notMask.code, 2);
    assert.match(notMask.err, /is not a persistence mask/);

    for (const [src, sport] of [[CLIENT, 40001], ["198.51.100.77", 40002]] as const) {
      const p = ipv4({ src, dst: VIP }).tcp({ sport, dport: 80, flags: "S", seq: 1 }).build();
      d.engine.handle(p, 0, p.length, p.length);
    }
    // One template for the /24, listed as IPVS lists it, beside the two sessions.
    const conns = await s.run("conn list");
    assert.equal(conns.out.split("\n").length, 4, conns.out);
    assert.match(
      conns.out,
      /^tcp +NONE +300s +198\.51\.100\.0:0 +198\.51\.100\.10:80 +0\.0\.0\.0:0 +203\.0\.113\.1[12]:\d+ +fullnat$/m,
    );
    const json = JSON.parse((await s.run("show connections --json")).out);
    assert.deepEqual(json.filter((c: { template?: true }) => c.template).length, 1);
    const rs = JSON.parse((await s.run(`rs list tcp ${VIP}:80 --json`)).out);
    assert.deepEqual(
      rs.map((r: { persistConns: number }) => r.persistConns).sort(),
      [0, 1],
    );

    assert.match(
      (await s.run("tunable show")).out,
      /^expire-quiescent-template +off +expire_quiescent_template /m,
    );
    assert.equal((await s.run("tunable set expire-quiescent-template on")).code, 0);
    assert.deepEqual(d.control.getTunables(), {
      expireNodestConn: false,
      expireQuiescentTemplate: true,
    });
    assert.deepEqual(JSON.parse((await s.run("tunable show --json")).out), {
      expireNodestConn: false,
      expireQuiescentTemplate: true,
    });
    const wrong = await s.run("tunable set expire-everything on");
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /expire-quiescent-template/);
    assert.equal((await s.run("tunable set expire-quiescent-template maybe")).code, 2);
  }));

Deno.test("stats show/zero and timeout show/set", () =>
  withShell(async (s, d) => {
    await provision(s);
    const p = ipv4({ src: CLIENT, dst: VIP }).tcp({ sport: 40001, dport: 80, flags: "S", seq: 1 })
      .build();
    d.engine.handle(p, 0, p.length, p.length);
    const stats = await s.run("stats show");
    assert.match(stats.out, /^tcp 198\.51\.100\.10:80 +1 +1 +0 +\d+ +0$/m);
    assert.match(stats.out, /^ {2}-> 203\.0\.113\.1[12]:\d+ +1 +1 +0 +\d+ +0$/m);
    assert.equal((await s.run(`stats zero tcp ${VIP}:80`)).code, 0);
    assert.equal(d.control.listServices()[0].stats.conns, 0);
    assert.equal(JSON.parse((await s.run("show stats --json")).out)[0].stats.inPackets, 0);

    assert.equal((await s.run("timeout set --tcp-established 900 --udp 60")).code, 0);
    const t = d.control.getTimeouts();
    assert.deepEqual([t.tcpEstablished, t.udp, t.tcpSynRecv], [900, 60, 30]);
    const shown = await s.run("timeout show");
    assert.match(shown.out, /^tcp-established +900$/m);
    assert.match(shown.out, /^udp +60$/m);
    assert.equal(JSON.parse((await s.run("show timeouts --json")).out).tcpEstablished, 900);
  }));

Deno.test("config export, check and apply round-trip through the daemon", () =>
  withShell(async (s, d) => {
    await provision(s);
    const exported = await s.run("config export");
    assert.equal(exported.code, 0);
    const doc = JSON.parse(exported.out);
    assert.equal(doc.services[0].address, VIP);

    const file = `${d.dir}/lb.json`;
    doc.services[0].realServers = doc.services[0].realServers.slice(0, 1);
    await Deno.writeTextFile(file, JSON.stringify(doc));
    const check = await s.run(`config check ${file}`);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out, /is valid; applying it would:\n {2}\S/);
    assert.equal(d.control.listServices()[0].realServers.length, 2, "check changes nothing");

    const applied = await s.run(`config apply ${file}`);
    assert.equal(applied.code, 0, applied.err);
    assert.match(applied.out, /^applied:\n/);
    assert.equal(d.control.listServices()[0].realServers.length, 1);
    assert.equal((await s.run(`config apply ${file}`)).out, "nothing to change");

    await Deno.writeTextFile(file, "{not json");
    const bad = await s.run(`config apply ${file}`);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /^error: /);
    assert.equal(d.control.listServices()[0].realServers.length, 1, "bad file changes nothing");

    const missing = await s.run(`config check ${d.dir}/nope.json`);
    assert.deepEqual([missing.code, missing.err], [
      2,
      `error: ${d.dir}/nope.json: no such file; give the path of a configuration file`,
    ]);
    const stdin = await s.run("config apply -");
    assert.equal(stdin.code, 2);
    assert.match(stdin.err, /standard input\) is the terminal here/);
  }));

Deno.test("config commands on a daemon without the ops say it does not support them", () =>
  withShell(async (s) => {
    const r = await s.run("config export");
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      "error: the running fullnat daemon does not support 'config export' (it has no " +
        "'configExport' control operation); upgrade fullnat on this box and restart the daemon",
    );
    assert.match((await s.run("config check /dev/null")).err, /does not support 'config check'/);
  }, { configOps: false }));

Deno.test("mistakes: usage errors exit 2 with the fix, refusals exit 1, nothing changes", () =>
  withShell(async (s, d) => {
    await provision(s);
    const cases: [string, number, RegExp][] = [
      [`service add tcp ${VIP}`, 2, /'198\.51\.100\.10' has no port: write 198\.51\.100\.10:PORT/],
      [`service add sctp ${VIP}:80`, 2, /'sctp' is not a protocol: use tcp or udp/],
      [
        `service add tcp ${VIP}:81 -s sed`,
        2,
        /'sed' is not a scheduler: use rr, wrr, lc, wlc, dh, sh or mh/,
      ],
      [`service add tcp ${VIP}:81 -p soon`, 2, /give a whole number from 0 to 2678400/],
      [
        `rs add tcp ${VIP}:80 ${RS1}:81 -m route`,
        2,
        /'route' is not a forwarding method: use fullnat, nat, dr or tunnel/,
      ],
      [`rs add tcp ${VIP}:80 ${RS1}:81 -w -1`, 2, /./],
      [`laddr add tcp ${VIP}:80 lb.example`, 2, /names are not looked up/],
      [`service edit tcp ${VIP}:80`, 2, /nothing to change: give --scheduler/],
      [`rs edit tcp ${VIP}:80 ${RS1}:80`, 2, /nothing to change: give --weight/],
      ["timeout set", 2, /nothing to change: give one or more of --tcp-established/],
      ["timeout set --udp 0", 2, /from 1 to 2678400/],
      [
        `service show tcp ${VIP}:81`,
        2,
        /no service tcp 198\.51\.100\.10:81; existing services: tcp 198\.51\.100\.10:80/,
      ],
      [`service add tcp ${VIP}:80`, 1, /the daemon refused: Service already exists/],
      [`rs delete tcp ${VIP}:80 ${RS1}:99`, 1, /the daemon refused: No such destination/],
      [
        `laddr add tcp ${VIP}:80 224.0.0.1`,
        2,
        /the daemon refused: Local address 224\.0\.0\.1 is not a unicast address/,
      ],
      ["service frobnicate", 2, /unknown command 'frobnicate'/],
      ["service list --colour", 2, /unknown option '--colour'/],
      [`rs list tcp`, 2, /give the service as PROTOCOL VIP:PORT/],
    ];
    const before = JSON.stringify(d.control.listServices());
    for (const [line, code, message] of cases) {
      const r = await s.run(line);
      assert.equal(r.code, code, `${line}: ${r.err}`);
      assert.match(r.err, message, line);
      assert.equal(r.out, "", line);
    }
    assert.equal(JSON.stringify(d.control.listServices()), before);
  }));

Deno.test("the shell refuses system commands and shell syntax, and runs ipvsadm verbatim", () =>
  withShell(async (s, d) => {
    for (const line of ["bash", "sh -c id", "/bin/sh", "exec bash"]) {
      const r = await s.run(line);
      assert.equal(r.code, 2, line);
      assert.match(r.err, /is not a command of this shell \(it runs only fullnat commands/, line);
    }
    for (
      const line of [
        "!sh",
        "!!",
        "service list; bash",
        "service list | sh",
        "show $(id)",
        "rs list `id`",
      ]
    ) {
      const r = await s.run(line);
      assert.equal(r.code, 2, line);
      assert.match(r.err, /no system shell here|is shell syntax/, line);
    }
    assert.equal((await s.run(`ipvsadm -A -t ${VIP}:80 -s rr`)).code, 0);
    assert.equal((await s.run(`ipvsadm -a -t ${VIP}:80 -r ${RS1}:80 -b -w 3`)).code, 0);
    assert.equal(d.control.listServices()[0].realServers[0].weight, 3);
    const listing = await s.run("ipvsadm -L -n");
    assert.match(listing.out, /^ {2}-> 203\.0\.113\.11:80 +FullNat 3 /m);
    const bad = await s.run("ipvsadm -A -t nowhere");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /./);
    assert.equal(
      (await s.run("fullnat service list")).code,
      0,
      "a typed 'fullnat' prefix is dropped",
    );
  }));

Deno.test("help on every command, exit/quit, and a daemon that is not running", async () => {
  const s = shellSession("/nonexistent/fullnat.sock");
  try {
    const help = await s.run("help");
    assert.equal(help.code, 0);
    assert.match(help.out, /^ {2}service +virtual services/m);
    const svcHelp = await s.run("help service add");
    assert.equal(svcHelp.code, 0);
    assert.match(svcHelp.out, /^Usage: service add \[options\] <protocol> <vip:port>$/m);
    assert.deepEqual(await s.run("service add --help"), svcHelp);
    const incomplete = await s.run("service");
    assert.equal(incomplete.code, 2);
    assert.match(incomplete.err, /^Usage: service \[options\] \[command\]$/m);

    const down = await s.run("service list");
    assert.deepEqual(down, {
      code: 1,
      out: "",
      err:
        "error: fullnat daemon is not running (no control socket at /nonexistent/fullnat.sock); " +
        "start it with: fullnat daemon",
    });
    assert.equal((await s.run("exit")).code, 0);
    assert.equal(s.ctx.exitRequested, true);
  } finally {
    await s.close();
  }
});

Deno.test("service add/edit: scheduler flags and mh table size reach the daemon, are shown, and bad ones are refused", async () => {
  await withShell(async (s) => {
    const run = (line: string) => s.run(line);
    const ok = async (line: string) => {
      const r = await run(line);
      assert.equal(r.code, 0, `${line}: ${r.err}`);
      return r.out;
    };
    await ok(`service add tcp ${VIP}:90 -s mh -b mh-port,mh-fallback --mh-table-size 251`);
    const shown = await ok(`service show tcp ${VIP}:90`);
    assert.match(shown, /scheduler flags +mh-fallback,mh-port/);
    assert.match(shown, /mh table size +251/);
    assert.match(await ok("service list"), /mh \(mh-fallback,mh-port\)/);
    await ok(`service edit tcp ${VIP}:90 --sched-flags none`);
    assert.doesNotMatch(await ok(`service show tcp ${VIP}:90`), /scheduler flags/);
    for (
      const [line, pattern] of [
        [`service add tcp ${VIP}:91 -s sh -b sh-turbo`, /'sh-turbo' is not a scheduler flag/],
        [`service add tcp ${VIP}:91 -s mh --mh-table-size 256`, /256/],
      ] as const
    ) {
      const r = await run(line);
      assert.equal(r.code, 2, line);
      assert.match(r.err, pattern);
    }
    // The daemon says a flag does not fit the scheduler; nothing is added.
    const misfit = await run(`service add tcp ${VIP}:91 -s rr -b sh-port`);
    assert.notEqual(misfit.code, 0);
    assert.match(misfit.err, /sh-port belongs to sh/);
    assert.doesNotMatch(await ok("service list"), /:91/);
  });
});
