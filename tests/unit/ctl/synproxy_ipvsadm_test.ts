/**
 * Alibaba LVS's `-j enable|disable` (`--synproxy`) of issue 16 point 1: parsed on `-A`/`-E`
 * (refused with a message for a bad value, a UDP service and other commands), shown as
 * ` synproxy` in `-L -n`, written by `-S` and read back by `-R`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseIpvsadm } from "../../../src/ctl/ipvsadm/parse.ts";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { argv, ok0, refused } from "./ipvsadm_kit.ts";

Deno.test("ipvsadm -j enable|disable parses into the service's synProxy", () => {
  const r = parseIpvsadm(argv("-A -t 10.0.0.1:80 -s rr -j enable"));
  deepStrictEqual(r.ok && r.command, {
    kind: "add-service",
    service: { protocol: "tcp", address: "10.0.0.1", port: 80 },
    options: { scheduler: "rr", persistence: 0, synProxy: true },
  });
  const e = parseIpvsadm(argv("-E -t 10.0.0.1:80 --synproxy disable"));
  deepStrictEqual(e.ok && e.command, {
    kind: "edit-service",
    service: { protocol: "tcp", address: "10.0.0.1", port: 80 },
    options: { synProxy: false },
  });
  refused(
    "-A -t 10.0.0.1:80 -j on",
    "illegal synproxy specified: give enable or disable (got 'on')",
  );
  refused("-A -u 10.0.0.1:53 -j enable", "the SYN proxy (-j) is for TCP services (-t) only");
  refused(
    "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -j enable",
    "Illegal 'synproxy' option with the 'add-server' command",
  );
});

Deno.test("-L -n shows synproxy, -S writes -j enable, -R reads it back, -E turns it off", async () => {
  const control = localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));
  await ok0(control, "-A -t 10.0.0.1:80 -s rr -j enable");
  await ok0(control, "-A -t 10.0.0.1:81 -s rr");
  const listed = await ok0(control, "-L -n");
  ok(listed.includes("TCP  10.0.0.1:80 rr synproxy\n"), listed);
  ok(listed.includes("TCP  10.0.0.1:81 rr\n"), listed);
  const saved = await ok0(control, "-S -n");
  strictEqual(saved, "-A -t 10.0.0.1:80 -s rr -j enable\n-A -t 10.0.0.1:81 -s rr\n");
  await ok0(control, "-C");
  await ok0(control, "-R", saved);
  strictEqual(await ok0(control, "-S -n"), saved);
  await ok0(control, "-E -t 10.0.0.1:80 -j disable");
  ok(!(await ok0(control, "-L -n")).includes("synproxy"));
});
