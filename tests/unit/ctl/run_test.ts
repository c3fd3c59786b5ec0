import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runIpvsadm } from "../../../src/ctl/ipvsadm/run.ts";
import { ControlError, DEFAULT_TCP_TWEAKS, type ServiceView } from "../../../src/fullnat/types.ts";
import type { ControlMethod } from "../../../src/ctl/remote.ts";
import { RecordingControl } from "./fake_control.ts";

const run = (control: RecordingControl, line: string) =>
  runIpvsadm(line === "" ? [] : line.split(" "), control);
const tcp80 = { protocol: "tcp", address: "10.0.0.100", port: 80 } as const;
const ZERO = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
const SERVICE: ServiceView = {
  ...tcp80,
  scheduler: "rr",
  persistence: 0,
  ...DEFAULT_TCP_TWEAKS,
  realServers: [{
    address: "192.168.1.2",
    port: 80,
    weight: 1,
    method: "fullnat",
    activeConns: 1,
    inactiveConns: 2,
    stats: ZERO,
  }],
  localAddresses: [{ address: "192.168.1.100", conns: 1, portConflicts: 0 }],
  stats: ZERO,
};

Deno.test("mutating commands make exactly one call with the parsed arguments", async () => {
  const cases: [string, ControlMethod, unknown[]][] = [
    ["-A -t 10.0.0.100:80 -s rr -p", "addService", [tcp80, { scheduler: "rr", persistence: 300 }]],
    ["-E -t 10.0.0.100:80 -s wrr", "editService", [tcp80, { scheduler: "wrr" }]],
    ["-D -t 10.0.0.100:80", "deleteService", [tcp80]],
    ["-C", "clear", []],
    [
      "-a -t 10.0.0.100:80 -r 192.168.1.2 -b -w 3",
      "addRealServer",
      [tcp80, { address: "192.168.1.2", port: 80, weight: 3, method: "fullnat" }],
    ],
    [
      "-e -t 10.0.0.100:80 -r 192.168.1.2:80 -m",
      "editRealServer",
      [tcp80, { address: "192.168.1.2", port: 80, method: "nat" }],
    ],
    [
      "-d -t 10.0.0.100:80 -r 192.168.1.2:80",
      "deleteRealServer",
      [tcp80, { address: "192.168.1.2", port: 80 }],
    ],
    ["-P -t 10.0.0.100:80 -z 192.168.1.100", "addLocalAddress", [tcp80, "192.168.1.100"]],
    ["-Q -t 10.0.0.100:80 -z 192.168.1.100", "deleteLocalAddress", [tcp80, "192.168.1.100"]],
    ["-Z", "zeroStats", []],
    ["-Z -t 10.0.0.100:80", "zeroStats", [tcp80]],
    ["--set 120 10 0", "setTimeouts", [{ tcpEstablished: 120, tcpFinWait: 10 }]],
  ];
  for (const [line, method, args] of cases) {
    const control = new RecordingControl();
    const result = await run(control, line);
    deepStrictEqual(result, { stdout: "", stderr: "", exitCode: 0 }, line);
    deepStrictEqual(control.calls, [{ method, args }], line);
  }
});

Deno.test("a refused command line makes no call", async () => {
  const cases: [string, string, number][] = [
    [
      "-A -t 10.0.0.100:80 -f 1",
      "option -f (--fwmark-service) is not supported by fullnat",
      2,
    ],
    [
      "-A -t 10.0.0.100:80 -s nq",
      "scheduler 'nq' not supported by fullnat: use -s rr, -s wrr, -s lc, -s wlc, -s dh, -s sh or -s mh",
      2,
    ],
    ["-A -t 10.0.0.100:80 -s nope", "Scheduler or persistence engine not found", 255],
    ["-A -t 10.0.0.100:80 -n", "Illegal 'numeric' option with the 'add-service' command", 2],
    ["-a -t 10.0.0.100:80 -r 192.168.1.2 -w 70000", "illegal weight specified", 2],
    ["-nL", "Try `ipvsadm -h' or 'ipvsadm --help' for more information.", 255],
    ["-L --bogus", "--bogus: unknown option", 255],
  ];
  for (const [line, message, exitCode] of cases) {
    const control = new RecordingControl();
    const result = await run(control, line);
    deepStrictEqual(result, { stdout: "", stderr: message + "\n", exitCode }, line);
    deepStrictEqual(control.calls, [], line);
  }
});

Deno.test("help and version print to stdout and call nothing", async () => {
  const control = new RecordingControl();
  const help = await run(control, "-h");
  strictEqual(help.exitCode, 0);
  ok(help.stdout.startsWith("ipvsadm v1.26 "));
  ok(help.stdout.includes("-P|Q -t|u service-address -z local-address"));
  const version = await run(control, "--version");
  strictEqual(version.exitCode, 0);
  strictEqual(version.stdout.split(" ")[1], "v1.26");
  deepStrictEqual(control.calls, []);
  const named = await runIpvsadm(["-h"], control, { program: "fullnat ipvsadm" });
  ok(named.stdout.includes("  fullnat ipvsadm -C\n"));
});

Deno.test("listings read from the daemon and print ipvsadm's layouts", async () => {
  const control = new RecordingControl();
  control.services = [SERVICE];
  const all = await run(control, "-L -n");
  strictEqual(all.exitCode, 0);
  strictEqual(
    all.stdout,
    "IP Virtual Server version 1.2.1 (size=4096)\n" +
      "Prot LocalAddress:Port Scheduler Flags\n" +
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
      "TCP  10.0.0.100:80 rr\n" +
      "  -> 192.168.1.2:80               FullNat 1      1          2         \n",
  );
  const one = await run(control, "-L -n -t 10.0.0.100:80");
  strictEqual(one.stdout.split("\n")[2], "TCP  10.0.0.100:80 rr");
  const laddrs = await run(control, "-G -t 10.0.0.100:80");
  strictEqual(
    laddrs.stdout,
    "VIP:VPORT            TOTAL    LADDR                CONFLICTS  CONNS     \n" +
      "10.0.0.100:80        1        \n" +
      "                              192.168.1.100        0          1         \n",
  );
  const timeouts = await run(control, "-L --timeout");
  strictEqual(timeouts.stdout, "Timeout (tcp tcpfin udp): 90 7 300\n");
  const conns = await run(control, "-Lnc");
  strictEqual(conns.stdout.split("\n")[0], "IPVS connection entries");
  deepStrictEqual(control.calls.map((c) => c.method), [
    "listServices",
    "listServices",
    "listServices",
    "getTimeouts",
    "listConnections",
  ]);
});

Deno.test("listing a missing service: No such service (exit 1 for -L, 255 for -G)", async () => {
  const control = new RecordingControl();
  control.services = [SERVICE];
  deepStrictEqual(await run(control, "-L -n -t 10.0.0.100:81"), {
    stdout: "",
    stderr: "No such service\n",
    exitCode: 1,
  });
  deepStrictEqual(await run(control, "-L -n -u 10.0.0.100:80"), {
    stdout: "",
    stderr: "No such service\n",
    exitCode: 1,
  });
  deepStrictEqual(await run(control, "-G -t 10.0.0.101:80"), {
    stdout: "",
    stderr: "No such service\n",
    exitCode: 255,
  });
});

Deno.test("control errors become libipvs's messages for the command that failed", async () => {
  const cases: [string, ControlMethod, ControlError, string, number][] = [
    [
      "-A -t 10.0.0.100:80",
      "addService",
      new ControlError("service-exists", "x"),
      "Service already exists",
      255,
    ],
    [
      "-E -t 10.0.0.100:80 -s rr",
      "editService",
      new ControlError("no-service", "x"),
      "No such service",
      1,
    ],
    [
      "-D -t 10.0.0.100:80",
      "deleteService",
      new ControlError("no-service", "x"),
      "No such service",
      255,
    ],
    [
      "-Z -t 10.0.0.100:80",
      "zeroStats",
      new ControlError("no-service", "x"),
      "No such service",
      255,
    ],
    [
      "-a -t 10.0.0.100:80 -r 1.2.3.4",
      "addRealServer",
      new ControlError("no-service", "x"),
      "Service not defined",
      255,
    ],
    [
      "-a -t 10.0.0.100:80 -r 1.2.3.4",
      "addRealServer",
      new ControlError("dest-exists", "x"),
      "Destination already exists",
      255,
    ],
    [
      "-e -t 10.0.0.100:80 -r 1.2.3.4 -w 2",
      "editRealServer",
      new ControlError("no-service", "x"),
      "Service not defined",
      255,
    ],
    [
      "-e -t 10.0.0.100:80 -r 1.2.3.4 -w 2",
      "editRealServer",
      new ControlError("no-dest", "x"),
      "No such destination",
      255,
    ],
    [
      "-d -t 10.0.0.100:80 -r 1.2.3.4",
      "deleteRealServer",
      new ControlError("no-dest", "x"),
      "No such destination",
      255,
    ],
    [
      "-P -t 10.0.0.100:80 -z 1.2.3.4",
      "addLocalAddress",
      new ControlError("no-service", "x"),
      "Service not defined",
      255,
    ],
    [
      "-P -t 10.0.0.100:80 -z 1.2.3.4",
      "addLocalAddress",
      new ControlError("laddr-exists", "x"),
      "Local address already exists",
      255,
    ],
    [
      "-Q -t 10.0.0.100:80 -z 1.2.3.4",
      "deleteLocalAddress",
      new ControlError("no-laddr", "x"),
      "No such Local address",
      255,
    ],
    [
      "-Q -t 10.0.0.100:80 -z 1.2.3.4",
      "deleteLocalAddress",
      new ControlError("no-service", "x"),
      "Service not defined",
      255,
    ],
    // Codes without a libipvs text keep the engine's own message.
    [
      "-A -t 224.0.0.1:80",
      "addService",
      new ControlError("invalid-argument", "address not unicast"),
      "address not unicast",
      255,
    ],
    [
      "-A -u [::1]:53",
      "addService",
      new ControlError("unsupported", "IPv6 is not supported yet"),
      "IPv6 is not supported yet",
      255,
    ],
    [
      "--set 1 1 1",
      "setTimeouts",
      new ControlError("invalid-argument", "timeout too small"),
      "timeout too small",
      255,
    ],
  ];
  for (const [line, method, error, message, exitCode] of cases) {
    const control = new RecordingControl();
    control.failures.set(method, error);
    const result = await run(control, line);
    deepStrictEqual(
      result,
      { stdout: "", stderr: message + "\n", exitCode },
      `${line} ${error.code}`,
    );
    strictEqual(control.calls.length, 1);
  }
});

Deno.test("a failure that is not a control error (daemon gone) exits 2 with its message", async () => {
  const control = new RecordingControl();
  control.failures.set(
    "listServices",
    new Error("the fullnat daemon closed the control connection"),
  );
  deepStrictEqual(await run(control, "-L -n"), {
    stdout: "",
    stderr: "the fullnat daemon closed the control connection\n",
    exitCode: 2,
  });
});

Deno.test("-L -n -c that fails after printing rows ends with an incomplete-listing error", async () => {
  const row = {
    protocol: "tcp" as const,
    method: "fullnat" as const,
    state: "ESTABLISHED",
    expiresInMs: 60_000,
    client: { address: "198.51.100.7", port: 40000 },
    virtual: { address: "10.0.0.100", port: 80 },
    local: { address: "192.168.1.100", port: 5000 },
    real: { address: "192.168.1.2", port: 80 },
  };
  const page = Array.from({ length: 1000 }, () => row);
  const control = Object.assign(new RecordingControl(), {
    async *connectionPages() {
      yield page;
      yield page;
      throw new Error("lost the fullnat control connection: reset");
    },
  });
  let printed = "";
  const result = await runIpvsadm(["-L", "-n", "-c"], control, {
    write: (text) => {
      printed += text;
      return Promise.resolve();
    },
  });
  strictEqual(result.stdout, "");
  strictEqual(
    result.stderr,
    "listing incomplete: stopped after 2000 connections: " +
      "lost the fullnat control connection: reset\n",
  );
  strictEqual(result.exitCode, 2);
  strictEqual(printed.split("\n").filter((l) => l.startsWith("TCP ")).length, 2000);

  // Nothing printed yet: the plain failure, as before.
  const early = Object.assign(new RecordingControl(), {
    // deno-lint-ignore require-yield
    async *connectionPages() {
      throw new Error("the fullnat daemon closed the control connection");
    },
  });
  deepStrictEqual(await runIpvsadm(["-L", "-n", "-c"], early, { write: () => Promise.resolve() }), {
    stdout: "",
    stderr: "the fullnat daemon closed the control connection\n",
    exitCode: 2,
  });
});

Deno.test("sync daemon commands call the daemon's own ops and print ipvsadm's -L --daemon", async () => {
  const calls: unknown[][] = [];
  const line = "master sync daemon (mcast=eth0, syncid=3, maxlen=1472, group=224.0.0.81, " +
    "port=8848, ttl=1)";
  const call = (op: string, ...args: unknown[]) => {
    calls.push([op, ...args]);
    if (op === "syncStop") {
      return Promise.reject(new ControlError("invalid-argument", "No daemon is running"));
    }
    return Promise.resolve(op === "syncList" ? [{ line }] : null);
  };
  const control = new RecordingControl();
  const go = (l: string) => runIpvsadm(l.split(" "), control, { call });
  deepStrictEqual(await go("--start-daemon master --mcast-interface eth0 --syncid 3"), {
    stdout: "",
    stderr: "",
    exitCode: 0,
  });
  deepStrictEqual(await go("-L --daemon"), { stdout: line + "\n", stderr: "", exitCode: 0 });
  deepStrictEqual(await go("--stop-daemon backup"), {
    stdout: "",
    stderr: "No daemon is running\n",
    exitCode: 255,
  });
  deepStrictEqual(calls, [
    ["syncStart", {
      role: "master",
      mcastInterface: "eth0",
      syncid: 3,
      maxlen: 0,
      group: "224.0.0.81",
      port: 8848,
      ttl: 1,
    }],
    ["syncList"],
    ["syncStop", "backup"],
  ]);
  strictEqual(control.calls.length, 0);
  strictEqual((await runIpvsadm(["-L", "--daemon"], control)).exitCode, 2);
});
