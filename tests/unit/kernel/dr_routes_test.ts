/**
 * The DR policy routing's commands (src/kernel/dr_routes.ts), built from `ip rule show` and
 * `ip route get` texts: a rule and a table per server, the local rule moved behind them
 * without a gap, removal that leaves the rules as they were, and a server behind a router
 * refused.
 */
import assert from "node:assert/strict";
import {
  attachedInterface,
  DrRoutes,
  type IpRunner,
  parseRules,
  removeCommands,
  syncCommands,
} from "../../../src/kernel/dr_routes.ts";
import { drMark } from "../../../src/fullnat/dr_mark.ts";

const PRISTINE =
  "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n";
const RS = "203.0.113.11";
const M = drMark(RS);

Deno.test("syncCommands() adds a route and rule per server, then moves the local rule behind", () => {
  const cmds = syncCommands("-4", parseRules(PRISTINE), [
    { server: { address: RS, mark: M }, dev: "lb-rs" },
  ]).map((c) => c.join(" "));
  assert.deepEqual(cmds, [
    `-4 route replace default via ${RS} dev lb-rs table ${M}`,
    `-4 rule add pref 0 fwmark ${M} lookup ${M}`,
    "-4 rule add pref 1 from all lookup local",
    "-4 rule del pref 0 from all lookup local",
    "-4 rule add pref 0 from all lookup local",
    "-4 rule del pref 1 from all lookup local",
  ]);
});

Deno.test("parseRules() finds ours (mark = table) and whether local reads first", () => {
  const after = `0:\tfrom all fwmark 0x${M.toString(16)} lookup ${M}\n0:\tfrom all lookup local\n` +
    "0:\tfrom all fwmark 0x1 lookup 100\n32766:\tfrom all lookup main\n";
  assert.deepEqual(parseRules(after), {
    ours: [{ mark: M }],
    localAtZero: true,
    localFirst: false,
  });
  const wrong = "0:\tfrom all lookup local\n" +
    `0:\tfrom all fwmark 0x${M.toString(16)} lookup ${M}\n`;
  assert.equal(parseRules(wrong).localFirst, true);
  assert.deepEqual(parseRules(PRISTINE), { ours: [], localAtZero: true, localFirst: false });
});

Deno.test("syncCommands() with everything in place only refreshes the route", () => {
  const state = parseRules(
    `0:\tfrom all fwmark 0x${M.toString(16)} lookup ${M}\n0:\tfrom all lookup local\n`,
  );
  const cmds = syncCommands("-4", state, [{ server: { address: RS, mark: M }, dev: "eth1" }]);
  assert.deepEqual(cmds.map((c) => c.join(" ")), [
    `-4 route replace default via ${RS} dev eth1 table ${M}`,
  ]);
});

Deno.test("removeCommands() deletes our rules and tables only; the local rule stays", () => {
  const state = parseRules(
    `0:\tfrom all fwmark 0x${M.toString(16)} lookup ${M}\n0:\tfrom all lookup local\n` +
      "0:\tfrom all fwmark 0x1 lookup 100\n",
  );
  assert.deepEqual(removeCommands("-4", state).map((c) => c.join(" ")), [
    `-4 rule del pref 0 fwmark ${M} lookup ${M}`,
    `-4 route flush table ${M}`,
  ]);
});

Deno.test("IPv6 moves the IPv6 local rule", () => {
  const cmds = syncCommands("-6", parseRules(PRISTINE), [
    { server: { address: "2001:db8:b::11", mark: drMark("2001:db8:b::11") }, dev: "eth1" },
  ]).map((c) => c.join(" "));
  assert.ok(cmds.includes("-6 rule add pref 1 from all lookup local"));
  assert.ok(cmds.includes("-6 rule del pref 1 from all lookup local"));
});

Deno.test("attachedInterface() takes a direct route and refuses one via a router", () => {
  assert.equal(
    attachedInterface(RS, `${RS} dev lb-rs src 203.0.113.1 uid 0\n    cache\n`),
    "lb-rs",
  );
  const via = attachedInterface("10.1.1.1", "10.1.1.1 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0");
  assert.ok(via instanceof Error);
  assert.match(
    via.message,
    /10\.1\.1\.1 is not on a directly attached segment \(reached via 192\.0\.2\.1\)/,
  );
  assert.ok(
    attachedInterface("127.0.0.1", "local 127.0.0.1 dev lo src 127.0.0.1") instanceof Error,
  );
});

Deno.test("DrRoutes.sync() runs the commands and reports a server behind a router", async () => {
  const ran: string[] = [];
  const ip: IpRunner = (args) => {
    ran.push(args.join(" "));
    if (args[1] === "route" && args[2] === "get") {
      const out = args[3] === RS
        ? `${RS} dev lb-rs src 203.0.113.1`
        : `${args[3]} via 203.0.113.254 dev lb-rs`;
      return Promise.resolve({ code: 0, stdout: out, stderr: "" });
    }
    if (args[1] === "rule" && args[2] === "show") {
      return Promise.resolve({ code: 0, stdout: PRISTINE, stderr: "" });
    }
    return Promise.resolve({ code: 0, stdout: "", stderr: "" });
  };
  const routes = new DrRoutes(ip);
  const problems = await routes.sync([
    { address: RS, mark: M },
    { address: "198.18.0.5", mark: drMark("198.18.0.5") },
  ]);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /198\.18\.0\.5 is not on a directly attached segment/);
  assert.ok(ran.includes(`-4 rule add pref 0 fwmark ${M} lookup ${M}`));
  assert.ok(!ran.some((c) => c.includes(String(drMark("198.18.0.5")))));
});
