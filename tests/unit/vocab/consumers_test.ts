/**
 * Every consumer accepts exactly what the vocabulary's tables say: the shell's completions and
 * value parsers, ipvsadm's parser, the control server's argument check, the configuration
 * document's validator and the engine's control. Each row of each table is tried in each
 * consumer, so a table change that a consumer does not follow fails here.
 */
import assert from "node:assert/strict";
import { parseIpvsadm } from "../../../src/ctl/ipvsadm/parse.ts";
import { forwardName } from "../../../src/ctl/ipvsadm/format.ts";
import { checkArgs } from "../../../src/ctl/validate.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { ControlError, type ServiceKey } from "../../../src/fullnat/types.ts";
import { validateConfig } from "../../../src/persist/document.ts";
import { completeLine } from "../../../src/shell/complete.ts";
import { createContext } from "../../../src/shell/runtime.ts";
import { describeTree } from "../../../src/shell/spec.ts";
import { buildShellTree } from "../../../src/shell/tree.ts";
import { parseMethod, parseProtocol, parseScheduler } from "../../../src/shell/values.ts";
import {
  FORWARD_METHOD_TABLE,
  FORWARD_METHODS,
  PROTOCOL_TABLE,
  PROTOCOLS,
  SCHEDULER_TABLE,
  SCHEDULERS,
  UNSUPPORTED_FORWARDING,
} from "../../../src/vocab/mod.ts";

const TREE = describeTree(buildShellTree(createContext({ mode: "shell", socket: "unused" })));
const offers = (line: string) => completeLine(line, TREE, []).candidates;
const sorted = (xs: readonly string[]) => [...xs].sort();

/** Names of every row of a table, the unsupported ones included. */
const ALL_SCHEDULERS: string[] = SCHEDULER_TABLE.map((s) => s.name);
const ALL_METHODS: string[] = FORWARD_METHOD_TABLE.map((m) => m.name);
/** Names no table has, which every consumer must refuse. */
const STRANGERS = ["", "sctp", "fastest", "WRR", "route"];

const accepted = (names: readonly string[], accepts: (name: string) => boolean) =>
  names.filter(accepts);

const succeeds = (fn: () => unknown) => {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
};

Deno.test("shell: completion offers exactly the table's protocols, schedulers and methods", () => {
  assert.deepEqual(offers("service add "), sorted(PROTOCOLS));
  assert.deepEqual(offers("service add tcp 192.0.2.10:80 --scheduler "), sorted(SCHEDULERS));
  assert.deepEqual(offers("service edit tcp 192.0.2.10:80 -s "), sorted(SCHEDULERS));
  assert.deepEqual(
    offers("rs add tcp 192.0.2.10:80 10.0.0.1:80 --method "),
    sorted(FORWARD_METHODS),
  );
  assert.deepEqual(offers("conn list --protocol "), sorted(PROTOCOLS));
});

Deno.test("shell: the value parsers accept exactly the table's supported names", () => {
  const everything = [...ALL_SCHEDULERS, ...ALL_METHODS, ...PROTOCOLS, ...STRANGERS];
  assert.deepEqual(accepted(everything, (n) => succeeds(() => parseProtocol(n))), PROTOCOLS);
  assert.deepEqual(accepted(everything, (n) => succeeds(() => parseScheduler(n))), SCHEDULERS);
  assert.deepEqual(accepted(everything, (n) => succeeds(() => parseMethod(n))), FORWARD_METHODS);
  // The ipvsadm letters of the supported methods are taken too, those of the refused ones not.
  for (const m of FORWARD_METHOD_TABLE) {
    assert.equal(succeeds(() => parseMethod(m.ipvsadm.short)), m.supported, m.ipvsadm.short);
  }
});

Deno.test("ipvsadm: -t/-u come from the protocol table", () => {
  for (const p of PROTOCOL_TABLE) {
    for (const flag of [`-${p.ipvsadm.short}`, `--${p.ipvsadm.long}`]) {
      const r = parseIpvsadm(["-A", flag, "192.0.2.10:80"]);
      assert.ok(r.ok && r.command.kind === "add-service", flag);
      assert.equal(r.command.service.protocol, p.name);
    }
  }
});

Deno.test("ipvsadm: -s accepts the supported schedulers and refuses the others by name", () => {
  for (const s of SCHEDULER_TABLE) {
    const r = parseIpvsadm(["-A", "-t", "192.0.2.10:80", "-s", s.name]);
    if (s.supported) {
      assert.ok(r.ok && r.command.kind === "add-service", s.name);
      assert.equal(r.command.options.scheduler, s.name);
    } else {
      assert.deepEqual(r, {
        ok: false,
        error: {
          message:
            `scheduler '${s.name}' not supported by fullnat: use -s rr, -s wrr, -s lc, -s wlc, -s dh, -s sh or -s mh`,
          exitCode: 2,
        },
      });
    }
  }
  const unknown = parseIpvsadm(["-A", "-t", "192.0.2.10:80", "-s", "fastest"]);
  assert.deepEqual(unknown, {
    ok: false,
    error: { message: "Scheduler or persistence engine not found", exitCode: 255 },
  });
});

Deno.test("ipvsadm: every method letter of the table is known; unsupported ones are refused", () => {
  for (const m of FORWARD_METHOD_TABLE) {
    const r = parseIpvsadm(["-a", "-t", "192.0.2.10:80", "-r", "10.0.0.1", `-${m.ipvsadm.short}`]);
    if (m.supported) {
      assert.ok(r.ok && r.command.kind === "add-server", m.name);
      assert.equal(r.command.server.method, m.name);
      assert.equal(forwardName(r.command.server.method), m.display);
    } else {
      assert.deepEqual(r, { ok: false, error: { message: UNSUPPORTED_FORWARDING, exitCode: 2 } });
    }
  }
});

Deno.test("control server: checkArgs() accepts exactly the table's supported names", () => {
  const key = (protocol: string) => ({ protocol, address: "192.0.2.10", port: 80 });
  const everything = [...ALL_SCHEDULERS, ...ALL_METHODS, ...PROTOCOLS, ...STRANGERS];
  assert.deepEqual(
    accepted(everything, (n) => checkArgs("deleteService", [key(n)]).ok),
    PROTOCOLS,
  );
  assert.deepEqual(
    accepted(everything, (n) => checkArgs("editService", [key("tcp"), { scheduler: n }]).ok),
    SCHEDULERS,
  );
  assert.deepEqual(
    accepted(
      everything,
      (n) =>
        checkArgs("editRealServer", [key("tcp"), { address: "10.0.0.1", port: 80, method: n }]).ok,
    ),
    FORWARD_METHODS,
  );
});

Deno.test("configuration document: validateConfig() accepts exactly the table's supported names", () => {
  const doc = (service: Record<string, unknown>, rs: Record<string, unknown> = {}) => ({
    version: 1,
    services: [{
      protocol: "tcp",
      address: "192.0.2.10",
      port: 80,
      ...service,
      realServers: [{ address: "10.0.0.1", port: 80, ...rs }],
    }],
  });
  const everything = [...ALL_SCHEDULERS, ...ALL_METHODS, ...PROTOCOLS, ...STRANGERS];
  assert.deepEqual(
    accepted(everything, (n) => validateConfig(doc({ protocol: n })).ok),
    PROTOCOLS,
  );
  assert.deepEqual(
    accepted(everything, (n) => validateConfig(doc({ scheduler: n })).ok),
    SCHEDULERS,
  );
  assert.deepEqual(
    accepted(everything, (n) => validateConfig(doc({}, { method: n })).ok),
    FORWARD_METHODS,
  );
});

Deno.test("engine control: addService() and addRealServer() accept exactly the supported names", () => {
  const control = () => new EngineControl(new Engine({ clock: () => 0, capacity: 4 }));
  const key = { protocol: "tcp", address: "192.0.2.10", port: 80 } as const;
  const refusesWith = (fn: () => void) => {
    try {
      fn();
      return undefined;
    } catch (e) {
      assert.ok(e instanceof ControlError);
      return e.code;
    }
  };
  const everything = [...ALL_SCHEDULERS, ...ALL_METHODS, ...PROTOCOLS, ...STRANGERS];
  assert.deepEqual(
    accepted(
      everything,
      (n) =>
        refusesWith(() =>
          control().addService({ ...key, protocol: n } as unknown as ServiceKey, {
            scheduler: "rr",
            persistence: 0,
          })
        ) === undefined,
    ),
    PROTOCOLS,
  );
  assert.deepEqual(
    accepted(
      everything,
      (n) =>
        refusesWith(() => control().addService(key, { scheduler: n as never, persistence: 0 })) ===
          undefined,
    ),
    SCHEDULERS,
  );
  assert.deepEqual(
    accepted(everything, (n) => {
      const c = control();
      c.addService(key, { scheduler: "rr", persistence: 0 });
      return refusesWith(() =>
        c.addRealServer(key, { address: "10.0.0.1", port: 80, weight: 1, method: n as never })
      ) === undefined;
    }),
    FORWARD_METHODS,
  );
});
