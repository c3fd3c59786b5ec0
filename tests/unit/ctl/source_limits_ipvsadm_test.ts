/**
 * The ipvsadm words of issue 16 point 3, fullnat's own: `--source-rate` and `--source-sessions`
 * of `-A`/`-E` parsed (with a message for bad values and for other commands), printed by `-S`
 * and read back by `-R`, and `-E` changing only what it names.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { parseIpvsadm } from "../../../src/ctl/ipvsadm/parse.ts";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { argv, ok0, refused } from "./ipvsadm_kit.ts";

Deno.test("ipvsadm --source-rate and --source-sessions parse into the service's options", () => {
  const r = parseIpvsadm(argv("-A -t 10.0.0.1:80 -s rr --source-rate 20 --source-sessions 100"));
  deepStrictEqual(r.ok && r.command, {
    kind: "add-service",
    service: { protocol: "tcp", address: "10.0.0.1", port: 80 },
    options: { scheduler: "rr", persistence: 0, sourceRate: 20, sourceSessions: 100 },
  });
  const e = parseIpvsadm(argv("-E -t 10.0.0.1:80 --source-rate 0"));
  deepStrictEqual(e.ok && e.command, {
    kind: "edit-service",
    service: { protocol: "tcp", address: "10.0.0.1", port: 80 },
    options: { sourceRate: 0 },
  });
  refused(
    "-A -t 10.0.0.1:80 --source-rate -3",
    "illegal source-rate specified: give 0 (none) to 2147483647",
  );
  refused(
    "-A -t 10.0.0.1:80 --source-sessions many",
    "illegal source-sessions specified: give 0 (none) to 2147483647",
  );
  refused(
    "-a -t 10.0.0.1:80 -r 10.0.1.1:80 --source-rate 5",
    "Illegal 'source-rate' option with the 'add-server' command",
  );
});

Deno.test("-S prints the per-source limits, -R reads them back, -E changes one", async () => {
  const control = localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));
  await ok0(control, "-A -t 10.0.0.1:80 -s rr --source-rate 20 --source-sessions 100");
  await ok0(control, "-A -t 10.0.0.1:81 -s rr");
  const saved = await ok0(control, "-S -n");
  strictEqual(
    saved,
    "-A -t 10.0.0.1:80 -s rr --source-rate 20 --source-sessions 100\n-A -t 10.0.0.1:81 -s rr\n",
  );
  await ok0(control, "-C");
  await ok0(control, "-R", saved);
  strictEqual(await ok0(control, "-S -n"), saved);
  await ok0(control, "-E -t 10.0.0.1:80 --source-rate 0");
  strictEqual(
    await ok0(control, "-S -n"),
    "-A -t 10.0.0.1:80 -s rr --source-sessions 100\n-A -t 10.0.0.1:81 -s rr\n",
  );
});
