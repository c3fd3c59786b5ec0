/**
 * `ipvsadm -S` (the rules, as ipvsadm prints them) and `ipvsadm -R` (read back all or
 * nothing, as one configuration change) against a real engine, and `-L --rate` through
 * `runIpvsadm`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { ListFormat } from "../../../src/ctl/ipvsadm/command.ts";
import { formatRules } from "../../../src/ctl/ipvsadm/format.ts";
import { splitRestoreInput } from "../../../src/ctl/ipvsadm/restore.ts";
import { type IpvsadmResult, runIpvsadm, type RunOptions } from "../../../src/ctl/ipvsadm/run.ts";
import { localRemote, type RemoteControl } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import {
  DEFAULT_TCP_TWEAKS,
  type RealServerView,
  type ServiceView,
} from "../../../src/fullnat/types.ts";
import type { ConfigDocument } from "../../../src/persist/document.ts";
import { readRunning } from "../../../src/persist/apply.ts";
import { RecordingControl } from "./fake_control.ts";

const lines = (...ls: string[]) => ls.map((l) => l + "\n").join("");
const FORMAT: ListFormat = {
  numeric: true,
  stats: false,
  rate: false,
  exact: false,
  nosort: false,
  persistentConn: false,
};
const ZERO = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
const rs = (address: string, port: number, over: Partial<RealServerView> = {}): RealServerView => ({
  address,
  port,
  weight: 1,
  method: "fullnat",
  activeConns: 0,
  inactiveConns: 0,
  stats: ZERO,
  ...over,
});
const svc = (over: Partial<ServiceView> & { address: string; port: number }): ServiceView => ({
  protocol: "tcp",
  scheduler: "wrr",
  persistence: 0,
  ...DEFAULT_TCP_TWEAKS,
  realServers: [],
  localAddresses: [],
  stats: ZERO,
  ...over,
});
const laddr = (address: string) => ({ address, conns: 0, portConflicts: 0 });

Deno.test("-S: -A then its -a lines per service in -L order, then every -P line", () => {
  // Out of order on purpose: services and real servers are sorted as -L sorts them; local
  // addresses keep the order they are used in.
  const services = [
    svc({
      address: "2001:db8::10",
      port: 80,
      scheduler: "rr",
      realServers: [rs("2001:db8::11", 80)],
      localAddresses: [laddr("2001:db8::201")],
    }),
    svc({ protocol: "udp", address: "10.0.0.53", port: 53, scheduler: "rr" }),
    svc({
      address: "10.0.0.100",
      port: 443,
      persistence: 600,
      realServers: [rs("192.168.1.4", 443, { weight: 0 })],
    }),
    svc({
      address: "10.0.0.100",
      port: 80,
      scheduler: "rr",
      realServers: [rs("192.168.1.3", 80, { method: "nat", weight: 2 }), rs("192.168.1.2", 8080)],
      localAddresses: [laddr("192.168.1.101"), laddr("192.168.1.100")],
    }),
  ];
  strictEqual(
    formatRules(services, FORMAT),
    lines(
      "-A -t 10.0.0.100:80 -s rr",
      "-a -t 10.0.0.100:80 -r 192.168.1.2:8080 -b -w 1",
      "-a -t 10.0.0.100:80 -r 192.168.1.3:80 -m -w 2",
      "-A -t 10.0.0.100:443 -s wrr -p 600",
      "-a -t 10.0.0.100:443 -r 192.168.1.4:443 -b -w 0",
      "-A -u 10.0.0.53:53 -s rr",
      "-A -t [2001:db8::10]:80 -s rr",
      "-a -t [2001:db8::10]:80 -r [2001:db8::11]:80 -b -w 1",
      "-P -t 10.0.0.100:80 -z 192.168.1.101",
      "-P -t 10.0.0.100:80 -z 192.168.1.100",
      "-P -t [2001:db8::10]:80 -z 2001:db8::201",
    ),
  );
  strictEqual(formatRules([], FORMAT), "", "an empty table saves as nothing");
});

Deno.test("-S: scheduler flags as mainline ipvsadm writes them, -b after -p; no mh table size", () => {
  const services = [
    svc({
      address: "10.0.0.100",
      port: 80,
      scheduler: "sh",
      schedulerFlags: ["sh-fallback", "sh-port"],
      persistence: 600,
    }),
    svc({
      address: "10.0.0.100",
      port: 81,
      scheduler: "mh",
      schedulerFlags: ["mh-port"],
      mhTableSize: 65521,
    }),
    svc({ address: "10.0.0.100", port: 82, scheduler: "mh", schedulerFlags: [] }),
    // A lister from before scheduler flags lists none: nothing to write.
    svc({ address: "10.0.0.100", port: 83, scheduler: "sh" }),
  ];
  strictEqual(
    formatRules(services, FORMAT),
    lines(
      "-A -t 10.0.0.100:80 -s sh -p 600 -b sh-fallback,sh-port",
      "-A -t 10.0.0.100:81 -s mh -b mh-port",
      "-A -t 10.0.0.100:82 -s mh",
      "-A -t 10.0.0.100:83 -s sh",
    ),
  );
});

/** A real engine behind the async contract, counting the changes that reach it. */
function engine(): { control: RemoteControl; changes: string[] } {
  const target = localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));
  const changes: string[] = [];
  const control = new Proxy(target, {
    get(t, name: string) {
      const method = t[name as keyof RemoteControl] as (...a: unknown[]) => Promise<unknown>;
      const reads = [
        "listServices",
        "listConnections",
        "getTimeouts",
        "getTunables",
        "diversion",
      ];
      return (...args: unknown[]) => {
        if (!reads.includes(name)) changes.push(name);
        return method(...args);
      };
    },
  });
  return { control, changes };
}

const ipvsadm = (control: RemoteControl, line: string, options: RunOptions = {}) =>
  runIpvsadm(line.split(" "), control, options);

async function ipvsadmOk(control: RemoteControl, line: string, options: RunOptions = {}) {
  const r = await ipvsadm(control, line, options);
  deepStrictEqual({ code: r.exitCode, stderr: r.stderr }, { code: 0, stderr: "" }, line);
  return r.stdout;
}

const restore = (control: RemoteControl, input: string, options: RunOptions = {}) =>
  ipvsadm(control, "-R", { stdin: () => Promise.resolve(input), ...options });

const CONFIGURE = [
  "-A -t 198.51.100.10:80 -s rr",
  "-a -t 198.51.100.10:80 -r 203.0.113.11:80 -b -w 1",
  "-a -t 198.51.100.10:80 -r 203.0.113.12:8080 -b -w 3",
  "-a -t 198.51.100.10:80 -r 203.0.113.13:80 -m -w 0",
  "-a -t 198.51.100.10:80 -r 203.0.113.14:80 -g -w 2",
  "-P -t 198.51.100.10:80 -z 203.0.113.202",
  "-P -t 198.51.100.10:80 -z 203.0.113.201",
  "-A -t 198.51.100.10:443 -s wrr -p 1800",
  "-a -t 198.51.100.10:443 -r 203.0.113.11:443 -b -w 5",
  "-P -t 198.51.100.10:443 -z 203.0.113.201",
  "-A -u 198.51.100.10:53 -s rr",
  "-a -u 198.51.100.10:53 -r 203.0.113.11:53 -b -w 1",
  "-P -u 198.51.100.10:53 -z 203.0.113.203",
  "-A -t [2001:db8::10]:80 -s wrr -p",
  "-a -t [2001:db8::10]:80 -r [2001:db8:1::11]:80 -b -w 2",
  "-P -t [2001:db8::10]:80 -z 2001:db8:1::201",
];

async function configured(): Promise<{ control: RemoteControl; changes: string[]; saved: string }> {
  const e = engine();
  for (const line of CONFIGURE) await ipvsadmOk(e.control, line);
  return { ...e, saved: await ipvsadmOk(e.control, "-S -n") };
}

Deno.test("-S, -C, -R, -S: the same rules and the same configuration", async () => {
  const { control, saved } = await configured();
  const before = await readRunning(control);
  strictEqual(saved.split("\n").filter((l) => l.startsWith("-A ")).length, 4);
  strictEqual(saved.split("\n").filter((l) => l.startsWith("-P ")).length, 5);
  ok(saved.includes("-A -t [2001:db8::10]:80 -s wrr -p 300\n"), saved);
  ok(saved.includes("-a -t 198.51.100.10:80 -r 203.0.113.13:80 -m -w 0\n"), saved);
  ok(saved.includes("-a -t 198.51.100.10:80 -r 203.0.113.14:80 -g -w 2\n"), saved);
  await ipvsadmOk(control, "-C");
  strictEqual(await ipvsadmOk(control, "-S"), "");
  const r = await restore(control, saved);
  deepStrictEqual(r, { stdout: "", stderr: "", exitCode: 0 } satisfies IpvsadmResult);
  strictEqual(await ipvsadmOk(control, "-S -n"), saved);
  // Beyond the text: the whole configuration, local-address order included.
  deepStrictEqual(await readRunning(control), before);
});

Deno.test("-i: listed as Tunnel, -S writes -i --tun-type ipip, -C and -R bring back the same rules", async () => {
  const { control } = engine();
  // Mixed modes in one service, as in IPVS; -r's port is replaced by the service's for -i.
  for (
    const line of [
      "-A -t 198.51.100.40:80 -s wrr",
      "-a -t 198.51.100.40:80 -r 203.0.113.41:8080 -i -w 2",
      "-a -t 198.51.100.40:80 -r 203.0.113.42:8080 -b -w 1",
      "-P -t 198.51.100.40:80 -z 203.0.113.240",
      "-A -t [2001:db8::40]:443 -s rr",
      "-a -t [2001:db8::40]:443 -r [2001:db8:1::41]:8443 --ipip",
    ]
  ) await ipvsadmOk(control, line);
  const listed = await ipvsadmOk(control, "-L -n");
  ok(/-> 203\.0\.113\.41:80 +Tunnel +2 /.test(listed), listed);
  ok(/-> \[2001:db8:1::41\]:443 +Tunnel +1 /.test(listed), listed);
  const saved = await ipvsadmOk(control, "-S -n");
  // As ipvsadm 1.31's print_tunnel_rule.
  ok(saved.includes("-a -t 198.51.100.40:80 -r 203.0.113.41:80 -i -w 2 --tun-type ipip\n"), saved);
  ok(
    saved.includes("-a -t [2001:db8::40]:443 -r [2001:db8:1::41]:443 -i -w 1 --tun-type ipip\n"),
    saved,
  );
  const before = await readRunning(control);
  await ipvsadmOk(control, "-C");
  deepStrictEqual(await restore(control, saved), { stdout: "", stderr: "", exitCode: 0 });
  strictEqual(await ipvsadmOk(control, "-S -n"), saved);
  deepStrictEqual(await readRunning(control), before);
});

Deno.test("--tun-type gue|gre: -L --tun-info and -S as ipvsadm 1.31, -R brings them back", async () => {
  const { control } = engine();
  for (
    const line of [
      "-A -t 198.51.100.40:80 -s rr",
      "-a -t 198.51.100.40:80 -r 203.0.113.41 -i --tun-type gue --tun-port 6080",
      "-a -t 198.51.100.40:80 -r 203.0.113.42 -i --tun-type gue --tun-port 6078 --tun-csum",
      "-a -t 198.51.100.40:80 -r 203.0.113.43 -i --tun-type gre --tun-csum -w 3",
      "-a -t 198.51.100.40:80 -r 203.0.113.44 -i",
      "-a -t 198.51.100.40:80 -r 203.0.113.45 -g",
    ]
  ) await ipvsadmOk(control, line);
  const info = await ipvsadmOk(control, "-L -n --tun-info");
  ok(info.includes("Forward TunnelInfo    Weight ActiveConn InActConn\n"), info);
  ok(
    info.includes("  -> 203.0.113.41:80              Tunnel  gue:6080:-c   1      0          0"),
    info,
  );
  ok(info.includes("  -> 203.0.113.42:80              Tunnel  gue:6078:+c   1 "), info);
  ok(info.includes("  -> 203.0.113.43:80              Tunnel  gre:+c        3 "), info);
  ok(info.includes("  -> 203.0.113.44:80              Tunnel  ipip          1 "), info);
  ok(info.includes("  -> 203.0.113.45:80              Route   n/a           1 "), info);
  const saved = await ipvsadmOk(control, "-S -n");
  for (
    const line of [
      "-a -t 198.51.100.40:80 -r 203.0.113.41:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
      "-a -t 198.51.100.40:80 -r 203.0.113.42:80 -i -w 1 --tun-type gue --tun-port 6078 --tun-csum",
      "-a -t 198.51.100.40:80 -r 203.0.113.43:80 -i -w 3 --tun-type gre --tun-csum",
      "-a -t 198.51.100.40:80 -r 203.0.113.44:80 -i -w 1 --tun-type ipip",
    ]
  ) ok(saved.includes(line + "\n"), saved);
  const before = await readRunning(control);
  await ipvsadmOk(control, "-C");
  deepStrictEqual(await restore(control, saved), { stdout: "", stderr: "", exitCode: 0 });
  deepStrictEqual(await readRunning(control), before);
  // -e changes the port alone, keeping the type.
  await ipvsadmOk(
    control,
    "-e -t 198.51.100.40:80 -r 203.0.113.41 -i --tun-type gue --tun-port 7000",
  );
  ok((await ipvsadmOk(control, "-L -n --tun-info")).includes("gue:7000:-c"));
});

// Services in -S's order, so the restored ones are created (and listed) in the same order.
const HASHED = [
  // Flags given in another order than ipvsadm prints them: the engine keeps ipvsadm's.
  "-A -t 198.51.100.30:80 -s mh -b mh-port,mh-fallback -p 120",
  "-a -t 198.51.100.30:80 -r 203.0.113.21:80 -b -w 3",
  "-a -t 198.51.100.30:80 -r 203.0.113.22:80 -m -w 0",
  "-P -t 198.51.100.30:80 -z 203.0.113.210",
  "-A -t 198.51.100.30:443 -s mh",
  "-a -t 198.51.100.30:443 -r 203.0.113.21:443 -b -w 1",
  "-A -u [2001:db8::30]:53 --sched-flags sh-port -s sh",
  "-a -u [2001:db8::30]:53 -r [2001:db8:1::21]:53 -b -w 1",
  "-P -u [2001:db8::30]:53 -z 2001:db8:1::210",
];

Deno.test("-S, -C, -R, -S with mh and sh flags: the same rules and the same configuration", async () => {
  const { control } = engine();
  for (const line of HASHED) await ipvsadmOk(control, line);
  const saved = await ipvsadmOk(control, "-S -n");
  ok(saved.includes("-A -t 198.51.100.30:80 -s mh -p 120 -b mh-fallback,mh-port\n"), saved);
  ok(saved.includes("-A -u [2001:db8::30]:53 -s sh -b sh-port\n"), saved);
  ok(saved.includes("-A -t 198.51.100.30:443 -s mh\n"), saved);
  const before = await readRunning(control);
  await ipvsadmOk(control, "-C");
  strictEqual(await ipvsadmOk(control, "-S"), "");
  const r = await restore(control, saved);
  deepStrictEqual(r, { stdout: "", stderr: "", exitCode: 0 } satisfies IpvsadmResult);
  strictEqual(await ipvsadmOk(control, "-S -n"), saved);
  deepStrictEqual(await readRunning(control), before);
  const listed = await ipvsadmOk(control, "-L -n -t 198.51.100.30:80");
  ok(listed.includes("TCP  198.51.100.30:80 mh (mh-fallback,mh-port) persistent 120\n"), listed);
});

Deno.test("-S, -C, -R, -S with -M: the granularity is written after -p and read back", async () => {
  const { control } = engine();
  const rules = [
    "-A -t 198.51.100.40:80 -s sh -b sh-port -p 600 -M 255.255.255.0",
    "-a -t 198.51.100.40:80 -r 203.0.113.21:80 -b -w 1",
    "-A -t [2001:db8::40]:443 -M 64 -s rr -p",
    "-a -t [2001:db8::40]:443 -r [2001:db8:1::21]:443 -b -w 1",
    // A granularity without persistence is kept, but -S writes -M only with -p, as ipvsadm.
    "-A -u 198.51.100.40:53 -s rr -M 255.255.0.0",
  ];
  for (const line of rules) await ipvsadmOk(control, line);
  const saved = await ipvsadmOk(control, "-S -n");
  strictEqual(
    saved,
    lines(
      "-A -t 198.51.100.40:80 -s sh -p 600 -M 255.255.255.0 -b sh-port",
      "-a -t 198.51.100.40:80 -r 203.0.113.21:80 -b -w 1",
      "-A -u 198.51.100.40:53 -s rr",
      "-A -t [2001:db8::40]:443 -s rr -p 300 -M 64",
      "-a -t [2001:db8::40]:443 -r [2001:db8:1::21]:443 -b -w 1",
    ),
  );
  const listed = await ipvsadmOk(control, "-L -n");
  ok(listed.includes("TCP  198.51.100.40:80 sh (sh-port) persistent 600 mask 255.255.255.0\n"));
  ok(listed.includes("TCP  [2001:db8::40]:443 rr persistent 300 mask 64\n"), listed);
  await ipvsadmOk(control, "-C");
  const r = await restore(control, saved);
  deepStrictEqual(r, { stdout: "", stderr: "", exitCode: 0 } satisfies IpvsadmResult);
  strictEqual(await ipvsadmOk(control, "-S -n"), saved);
  const doc = await readRunning(control);
  // The UDP service's /16 did not travel: -S wrote no -M for a service without -p.
  deepStrictEqual(doc.services.map((s) => s.persistenceMask), [24, 32, 64]);
  // -E changes the granularity alone; a netmask is no IPv6 granularity.
  await ipvsadmOk(control, "-E -t 198.51.100.40:80 -M 255.255.0.0");
  ok((await ipvsadmOk(control, "-S -n")).includes("-p 600 -M 255.255.0.0 -b sh-port\n"));
  const bad = await ipvsadm(control, "-E -t [2001:db8::40]:443 -M 255.255.255.0");
  deepStrictEqual(bad, { stdout: "", stderr: "illegal ipv6 netmask specified\n", exitCode: 2 });
});

Deno.test("-S has no word for the mh table size: a service -R creates anew gets the default", async () => {
  const { control } = engine();
  for (const line of HASHED) await ipvsadmOk(control, line);
  const key = { protocol: "tcp", address: "198.51.100.30", port: 80 } as const;
  const sizeOf = async () =>
    (await readRunning(control)).services.find((s) => s.port === 80)?.mhTableSize;
  const defaultSaved = await ipvsadmOk(control, "-S -n");
  await control.editService(key, { mhTableSize: 65521 });
  strictEqual(await sizeOf(), 65521);
  const saved = await ipvsadmOk(control, "-S -n");
  strictEqual(saved, defaultSaved, "the size is not in the rules");
  // -E names the service it changes, so what it does not mention (the size) stays.
  const edited = await restore(control, "-E -t 198.51.100.30:80 -s mh -b mh-port -p 120\n");
  strictEqual(edited.exitCode, 0, edited.stderr);
  strictEqual(await sizeOf(), 65521);
  // -C then -A makes a new service: IPVS's size, as ipvsadm -R into a kernel would.
  const r = await restore(control, "-C\n" + saved);
  strictEqual(r.exitCode, 0, r.stderr);
  strictEqual(await sizeOf(), 4093);
  strictEqual(await ipvsadmOk(control, "-S -n"), saved);
});

Deno.test("-R over the running configuration changes only the difference, as one document", async () => {
  const { control, changes, saved } = await configured();
  changes.length = 0;
  // -C first, then the same rules: the configuration does not change, so nothing is called.
  const same = await restore(control, "-C\n" + saved);
  strictEqual(same.exitCode, 0, same.stderr);
  deepStrictEqual(changes, [], "re-creating what runs must not touch it");

  const applied: ConfigDocument[] = [];
  const r = await restore(
    control,
    "ipvsadm -e -t 198.51.100.10:80 -r 203.0.113.11:80 -w 7\n-D -u 198.51.100.10:53\n",
    { applyDocument: (doc) => Promise.resolve(void applied.push(doc)) },
  );
  strictEqual(r.exitCode, 0, r.stderr);
  strictEqual(applied.length, 1, "one document for the whole input");
  deepStrictEqual(changes, [], "through applyDocument only, never line by line");
  const doc = applied[0];
  strictEqual(doc.services.length, 3);
  ok(!doc.services.some((s) => s.protocol === "udp"));
  const http = doc.services.find((s) => s.port === 80 && s.address === "198.51.100.10")!;
  strictEqual(http.realServers.find((x) => x.address === "203.0.113.11")?.weight, 7);
  // ... and the default applier does the same from here.
  const r2 = await restore(control, "-D -u 198.51.100.10:53\n");
  strictEqual(r2.exitCode, 0, r2.stderr);
  deepStrictEqual(changes, ["deleteService"]);
});

Deno.test("-R with bad lines: every one reported with its number and ipvsadm's message, nothing applied", async () => {
  const { control, changes, saved } = await configured();
  changes.length = 0;
  const input = [
    "# rules for lb1", //                                              1 comment
    "-C", //                                                           2
    "-A -t 198.51.100.20:80 -s rr", //                                 3 fine
    "-a -t 198.51.100.20:80 -r 203.0.113.11 -w 70000", //              4 parse
    "", //                                                             5 blank
    "-A -f 1 -s rr", //                                               6 fullnat's refusal
    "-A -t 198.51.100.20:80 -s wrr", //                                7 engine: exists
    "-a -t 198.51.100.30:80 -r 203.0.113.11", //                       8 engine: no service
    "-L -n", //                                                        9 not a change
    "-P -t 198.51.100.20:80 -z 203.0.113.201", //                      10 fine
    "-nL", //                                                          11 not a command
    "-A -t 198.51.100.20:81 -s sed", //                                12 scheduler
  ].join("\n");
  const r = await restore(control, input);
  strictEqual(r.stdout, "");
  strictEqual(
    r.stderr,
    lines(
      "line 4: illegal weight specified",
      "line 6: option -f (--fwmark-service) is not supported by fullnat",
      "line 7: Service already exists",
      "line 8: Service not defined",
      "line 9: -L does not change the configuration; a restore input holds only -A, -E, -D, " +
        "-C, -a, -e, -d, -P, -Q and --set lines",
      "line 11: Try `ipvsadm -h' or 'ipvsadm --help' for more information.",
      "line 12: scheduler 'sed' not supported by fullnat: use -s rr, -s wrr, -s lc, -s wlc, " +
        "-s dh, -s sh or -s mh",
      "nothing restored: 7 of 10 command lines refused",
    ),
  );
  strictEqual(r.exitCode, 2, "the first bad line's status");
  deepStrictEqual(changes, [], "nothing reached the target");
  strictEqual(await ipvsadmOk(control, "-S -n"), saved);
});

Deno.test("-R: input lines as ipvsadm reads them; without standard input it is refused", async () => {
  deepStrictEqual(splitRestoreInput("ipvsadm -C\r\n\n  -A\t-t 10.0.0.1:80  \n# x\nipvsadm\n"), [
    { line: 1, words: ["-C"] },
    { line: 3, words: ["-A", "-t", "10.0.0.1:80"] },
  ]);
  const control = new RecordingControl();
  const r = await runIpvsadm(["-R"], control);
  deepStrictEqual(r, {
    stdout: "",
    stderr: "-R reads the rules from standard input, and there is none here\n",
    exitCode: 2,
  });
  deepStrictEqual(control.calls, []);
});

Deno.test("-L --rate prints the daemon's estimates; a lister without estimates is named", async () => {
  const control = new RecordingControl();
  control.services = [
    svc({ address: "10.0.0.100", port: 80, realServers: [rs("192.168.1.2", 80)] }),
  ];
  const without = await runIpvsadm(["-L", "-n", "--rate"], control);
  deepStrictEqual(without, {
    stdout: "",
    stderr: "--rate: this fullnat daemon estimates no rates (use --stats for the counters)\n",
    exitCode: 2,
  });
  const rate = { cps: 3, inPps: 40, outPps: 38, inBps: 5200, outBps: 91000 };
  control.services = [
    svc({ address: "10.0.0.100", port: 80, rate, realServers: [rs("192.168.1.2", 80, { rate })] }),
  ];
  const listed = await runIpvsadm(["-L", "-n", "--rate", "-t", "10.0.0.100:80"], control);
  strictEqual(
    listed.stdout,
    lines(
      "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
      "  -> RemoteAddress:Port",
      "TCP  10.0.0.100:80                       3       40       38     5200    91000",
      "  -> 192.168.1.2:80                      3       40       38     5200    91000",
    ),
  );
});
