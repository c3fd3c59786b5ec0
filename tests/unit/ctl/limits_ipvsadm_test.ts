/**
 * The ipvsadm words of issue 18 point 3 against a real engine: `-x`/`-y` thresholds,
 * `-o` one-packet scheduling and Alibaba's `-V` ESTABLISHED timeout parsed (with ipvsadm's
 * messages for bad values), printed by `-S` and `-L [--thresholds]`, and read back by `-R`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseIpvsadm } from "../../../src/ctl/ipvsadm/parse.ts";
import { runIpvsadm } from "../../../src/ctl/ipvsadm/run.ts";
import { localRemote, type RemoteControl } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { readRunning } from "../../../src/persist/apply.ts";
import { argv, ok0, refused } from "./ipvsadm_kit.ts";

function parsed(line: string) {
  const r = parseIpvsadm(argv(line));
  if (!r.ok) throw new Error(`${line}: ${r.error.message}`);
  return r.command;
}

function target(): RemoteControl {
  return localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));
}

Deno.test("ipvsadm -x/-y, -o, -V parse into the contract's fields", () => {
  deepStrictEqual(parsed("-a -t 10.0.0.1:80 -r 10.0.1.1:80 -b -w 2 -x 100 -y 50"), {
    kind: "add-server",
    service: { protocol: "tcp", address: "10.0.0.1", port: 80 },
    server: {
      address: "10.0.1.1",
      port: 80,
      weight: 2,
      method: "fullnat",
      upperThreshold: 100,
      lowerThreshold: 50,
    },
  });
  // -e changes only what it names.
  deepStrictEqual(parsed("-e -t 10.0.0.1:80 -r 10.0.1.1:80 --u-threshold 7"), {
    kind: "edit-server",
    service: { protocol: "tcp", address: "10.0.0.1", port: 80 },
    server: { address: "10.0.1.1", port: 80, upperThreshold: 7 },
  });
  deepStrictEqual(parsed("-A -u 10.0.0.1:53 -s rr -o"), {
    kind: "add-service",
    service: { protocol: "udp", address: "10.0.0.1", port: 53 },
    options: { scheduler: "rr", persistence: 0, onePacket: true },
  });
  deepStrictEqual(parsed("-E -t 10.0.0.1:22 -V 900"), {
    kind: "edit-service",
    service: { protocol: "tcp", address: "10.0.0.1", port: 22 },
    options: { timeouts: { tcpEstablished: 900 } },
  });
  // Alibaba's long name, and keepalived's word for it.
  for (const long of ["--vsestablish-timeout", "--est_timeout", "--est-timeout"]) {
    deepStrictEqual(parsed(`-A -t 10.0.0.1:22 -s rr ${long} 900`), {
      kind: "add-service",
      service: { protocol: "tcp", address: "10.0.0.1", port: 22 },
      options: { scheduler: "rr", persistence: 0, timeouts: { tcpEstablished: 900 } },
    });
  }
  const list = parsed("-L -n --thresholds");
  ok(list.kind === "list-services" && list.format.thresholds === true);
});

Deno.test("ipvsadm refuses bad thresholds, -o on TCP and a zero -V with clear messages", () => {
  refused("-a -t 10.0.0.1:80 -r 10.0.1.1 -x many", "illegal u_threshold specified");
  refused("-a -t 10.0.0.1:80 -r 10.0.1.1 -x -3", "illegal u_threshold specified");
  refused("-a -t 10.0.0.1:80 -r 10.0.1.1 -y 2147483648", "illegal l_threshold specified");
  refused("-A -t 10.0.0.1:80 -x 5", "Illegal 'u-threshold' option with the 'add-service' command");
  refused("-a -t 10.0.0.1:80 -r 10.0.1.1 -o", "Illegal 'ops' option with the 'add-server' command");
  refused(
    "-a -t 10.0.0.1:80 -r 10.0.1.1 -V 9",
    "Illegal 'vsestablish-timeout' option with the 'add-server' command",
  );
  refused("-A -t 10.0.0.1:53 -o", "one-packet scheduling (-o) is for UDP services (-u) only");
  refused("-A -t 10.0.0.1:22 -V 0", "vsestablish-timeout should not be zero");
  refused("-A -t 10.0.0.1:22 -V soon", "invalid timeout value `soon' specified");
  refused("-L -c --thresholds", "options conflicts in the list command");
});

Deno.test("the engine's refusals come through ipvsadm: lower above upper, -V on UDP", async () => {
  const control = target();
  await ok0(control, "-A -t 10.0.0.1:80 -s rr");
  await ok0(control, "-A -u 10.0.0.1:53 -s rr");
  const r = await runIpvsadm(argv("-a -t 10.0.0.1:80 -r 10.0.1.1:80 -x 5 -y 10"), control);
  deepStrictEqual(r, {
    stdout: "",
    stderr: "Lower threshold 10 is higher than upper threshold 5\n",
    exitCode: 255,
  });
  const v = await runIpvsadm(argv("-E -u 10.0.0.1:53 -V 900"), control);
  strictEqual(v.exitCode, 255);
  ok(v.stderr.startsWith("Timeout tcpEstablished applies to TCP services only"), v.stderr);
  strictEqual((await readRunning(control)).services[0].realServers.length, 0, "nothing added");
});

Deno.test("-S prints -o, -V and -x/-y; -L shows ops and --thresholds the columns; -R reads them back", async () => {
  const control = target();
  const rules = [
    "-A -t 10.0.0.1:22 -s wlc -V 900",
    "-a -t 10.0.0.1:22 -r 10.0.1.1:22 -b -w 1 -x 200 -y 150",
    "-a -t 10.0.0.1:22 -r 10.0.1.2:22 -b -w 1 -x 100",
    "-A -u 10.0.0.1:53 -s rr -o",
    "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -b -w 1",
  ];
  for (const line of rules) await ok0(control, line);
  const saved = await ok0(control, "-S -n");
  strictEqual(
    saved,
    [
      "-A -t 10.0.0.1:22 -s wlc -V 900",
      "-a -t 10.0.0.1:22 -r 10.0.1.1:22 -b -w 1 -x 200 -y 150",
      "-a -t 10.0.0.1:22 -r 10.0.1.2:22 -b -w 1 -x 100",
      "-A -u 10.0.0.1:53 -s rr -o",
      "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -b -w 1",
      "",
    ].join("\n"),
  );
  const listed = await ok0(control, "-L -n");
  ok(listed.includes("UDP  10.0.0.1:53 rr ops\n"), listed);
  strictEqual(
    await ok0(control, "-L -n --thresholds -t 10.0.0.1:22"),
    "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n" +
      "  -> RemoteAddress:Port\n" +
      "TCP  10.0.0.1:22 wlc\n" +
      `  -> ${"10.0.1.1:22".padEnd(28)} 200        150        0          0         \n` +
      `  -> ${"10.0.1.2:22".padEnd(28)} 100        0          0          0         \n`,
  );

  const before = await readRunning(control);
  strictEqual(before.services[0].timeouts.tcpEstablished, 900);
  await ok0(control, "-C");
  await ok0(control, "-R", saved);
  strictEqual(await ok0(control, "-S -n"), saved);
  deepStrictEqual(await readRunning(control), before);

  // -E -V changes that one timeout; -e -y changes only the lower threshold.
  await ok0(control, "-E -t 10.0.0.1:22 -V 60");
  await ok0(control, "-e -t 10.0.0.1:22 -r 10.0.1.2:22 -y 80");
  const after = await ok0(control, "-S -n");
  ok(after.includes("-A -t 10.0.0.1:22 -s wlc -V 60\n"), after);
  ok(after.includes("-r 10.0.1.2:22 -b -w 1 -x 100 -y 80\n"), after);
});
