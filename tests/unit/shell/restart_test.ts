/**
 * `daemon restart` in a shell session: against daemons on a real control socket (one that
 * stops after the `restart` op and a new one that binds the socket again a moment later; an
 * older daemon without the op; no daemon at all) and against a scripted box that plays the
 * cases a socket cannot easily show: the old daemon still answering after it agreed, a daemon
 * that systemd does not run, one that never comes back, one that never stops, and an older
 * daemon that does not say its pid.
 */
import assert from "node:assert/strict";
import { ControlServer } from "../../../src/ctl/server.ts";
import { RemoteError } from "../../../src/ctl/protocol.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import type { ShellControl } from "../../../src/shell/context.ts";
import { runLine } from "../../../src/shell/dispatch.ts";
import { type Connector, createContext } from "../../../src/shell/runtime.ts";
import { buildShellTree } from "../../../src/shell/tree.ts";
import { Captured, shellSession, startDaemon } from "./fixture.ts";

/** A daemon on `socket` that serves what the real one registers beside the contract. */
async function daemonAt(socket: string, pid: number, onRestart: () => void) {
  const control = new EngineControl(new Engine({ clock: () => 0, capacity: 16 }));
  const server = new ControlServer(control, { onError: () => {} });
  const info = { pid, systemdUnit: "fullnat.service", runDir: "/run/fullnat" };
  server.register("restart", () => {
    onRestart();
    return { restarting: true, ...info };
  });
  server.register("daemonInfo", () => info);
  server.register("status", () => ({ sessions: 7 }));
  await server.listen({ path: socket });
  return server;
}

Deno.test("daemon restart waits for the new daemon on the socket and says how long it was away", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-restart-" });
  const socket = `${dir}/control.sock`;
  const servers: ControlServer[] = [];
  // As the real daemon: it answers, stops 50 ms later (socket gone), and the service unit
  // starts a new one, which binds the socket 300 ms after that.
  const restart = () => {
    setTimeout(async () => {
      await servers[0].close();
      setTimeout(async () => servers.push(await daemonAt(socket, 2002, () => {})), 300);
    }, 50);
  };
  servers.push(await daemonAt(socket, 1001, restart));
  const s = shellSession(socket);
  try {
    const started = performance.now();
    const r = await s.run("daemon restart");
    const took = performance.now() - started;
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "");
    const lines = r.out.split("\n");
    assert.equal(
      lines[0],
      "daemon (pid 1001) stopping for a restart: diversion rules and 7 sessions kept for the " +
        "new daemon",
    );
    const back = lines[1].match(
      /^daemon back after (\d+\.\d\d) s: pid 2002, started again by systemd \(fullnat\.service\); 7 sessions in its table$/,
    );
    assert.ok(back, lines[1]);
    const away = Number(back[1]) * 1000;
    assert.ok(away >= 340 && away <= took, `away ${away} ms, the command took ${took} ms`);
    // The session goes on with the new daemon.
    const after = await s.run("service list");
    assert.deepEqual([after.code, after.err], [0, ""]);
  } finally {
    await s.close();
    for (const server of servers) await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon restart: no daemon, or one without the op, is a clear error and exit 1", async () => {
  const none = shellSession("/nonexistent/fullnat.sock");
  try {
    assert.deepEqual(await none.run("daemon restart"), {
      code: 1,
      out: "",
      err:
        "error: fullnat daemon is not running (no control socket at /nonexistent/fullnat.sock); " +
        "start it with: fullnat daemon",
    });
  } finally {
    await none.close();
  }
  const older = await startDaemon();
  const s = shellSession(older.socket);
  try {
    const r = await s.run("daemon restart");
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.match(r.err, /does not support 'daemon restart' \(it has no 'restart' control op/);
  } finally {
    await s.close();
    await older.dispose();
  }
});

/** How the scripted box behaves after `restart`. */
interface BoxScript {
  /** The restarted daemon's unit (null: started by hand); default fullnat.service. */
  systemdUnit?: string | null;
  /** How long the old daemon goes on answering after it agreed; default 120 ms. */
  lingerMs?: number;
  /** How long no daemon answers after that; Infinity: none comes back. Default 200 ms. */
  gapMs?: number;
  /** Whether daemons answer `daemonInfo` and put their pid in the restart reply. */
  saysPid?: boolean;
  runDir?: string | null;
}

/**
 * A box whose daemon restarts by the script, reached through a {@linkcode Connector}: the old
 * daemon has pid 100, the new one 200. Connections to the old daemon fail once it stopped.
 */
function scriptedBox(script: BoxScript = {}) {
  const { lingerMs = 120, gapMs = 200, saysPid = true } = script;
  const unit = script.systemdUnit === undefined ? "fullnat.service" : script.systemdUnit;
  const runDir = script.runDir === undefined ? "/run/fullnat" : script.runDir;
  let restartedAt: number | undefined;
  const box = { restarts: 0, connects: 0 };
  const daemon = (): 100 | 200 | undefined => {
    if (restartedAt === undefined) return 100;
    const since = performance.now() - restartedAt;
    if (since < lingerMs) return 100;
    return since < lingerMs + gapMs ? undefined : 200;
  };
  const connect: Connector = (path) => {
    box.connects++;
    const pid = daemon();
    if (pid === undefined) {
      return Promise.reject(
        new Error(`fullnat daemon is not running (no control socket at ${path})`),
      );
    }
    const info = () => ({ pid, systemdUnit: unit, runDir });
    const call = (op: string): Promise<unknown> => {
      if (daemon() !== pid) {
        return Promise.reject(new Error("the fullnat daemon closed the control connection"));
      }
      switch (op) {
        case "restart":
          box.restarts++;
          restartedAt = performance.now();
          return Promise.resolve(saysPid ? { restarting: true, ...info() } : { restarting: true });
        case "status":
          return Promise.resolve({ sessions: pid === 100 ? 1 : 4 });
        case "daemonInfo":
          if (saysPid) return Promise.resolve(info());
      }
      return Promise.reject(new RemoteError("unknown-op", `unknown op '${op}'`));
    };
    return Promise.resolve(
      { call, close: () => {} } as unknown as ShellControl & {
        close(): void;
      },
    );
  };
  return { box, connect };
}

async function runOn(connect: Connector, line: string) {
  const io = new Captured();
  const ctx = createContext({ mode: "shell", socket: "/run/fullnat/control.sock", io, connect });
  const started = performance.now();
  try {
    const code = await runLine(line, ctx, buildShellTree);
    return { code, ...io.take(), ms: performance.now() - started };
  } finally {
    await ctx.close();
  }
}

Deno.test("daemon restart does not take the old daemon, still answering, for the new one", async () => {
  const { box, connect } = scriptedBox({ lingerMs: 300, gapMs: 100 });
  const r = await runOn(connect, "daemon restart");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^daemon \(pid 100\) stopping .* 1 session kept for the new daemon$/m);
  assert.match(r.out, /^daemon back after 0\.\d\d s: pid 200, started again by systemd/m);
  assert.ok(r.ms >= 400, `back after ${r.ms} ms, before the new daemon was there`);
  assert.equal(box.restarts, 1);
  assert.ok(box.connects > 3, "it polled");
});

Deno.test("daemon restart without daemonInfo counts a daemon as new once the socket was empty", async () => {
  const { connect } = scriptedBox({ saysPid: false, lingerMs: 300, gapMs: 150 });
  const r = await runOn(connect, "daemon restart");
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out.split("\n")[0],
    "daemon stopping for a restart: diversion rules and 1 session kept for the new daemon",
  );
  assert.match(r.out.split("\n")[1], /^daemon back after 0\.\d\d s; 4 sessions in its table$/);
  assert.ok(r.ms >= 450, `back after ${r.ms} ms, before the new daemon was there`);
});

Deno.test("daemon restart of a daemon systemd does not run: none comes back, says so, exit 1", async () => {
  const { connect } = scriptedBox({ systemdUnit: null, gapMs: Infinity });
  const r = await runOn(connect, "daemon restart --wait 1");
  assert.equal(r.code, 1);
  assert.match(r.out, /^daemon \(pid 100\) stopping for a restart/);
  assert.equal(
    r.err,
    "error: no daemon answered within 1 s: the daemon did not run under systemd, so nothing " +
      "starts it again; start it with 'fullnat daemon' (it takes the rules and sessions over); " +
      "until one runs, diverted packets wait in the kernel's queue",
  );
  assert.ok(r.ms >= 1000 && r.ms < 3000, `gave up after ${r.ms} ms`);
});

Deno.test("daemon restart: systemd does not start it again, or the old one never stops", async () => {
  const gone = await runOn(scriptedBox({ gapMs: Infinity }).connect, "daemon restart --wait 1");
  assert.equal(gone.code, 1);
  assert.match(
    gone.err,
    /^error: no daemon answered within 1 s: systemd \(fullnat\.service\) did not start it again; as root see 'systemctl status fullnat\.service'/,
  );
  const stuck = await runOn(scriptedBox({ lingerMs: Infinity }).connect, "daemon restart --wait 1");
  assert.equal(stuck.code, 1);
  assert.match(
    stuck.err,
    /^error: the daemon \(pid 100\) still answered after 1 s: it did not stop/,
  );
  // A daemon that does not say its pid: never seen gone, so never taken for a new one.
  const mute = scriptedBox({ lingerMs: Infinity, saysPid: false });
  const stuckOlder = await runOn(mute.connect, "daemon restart --wait 1");
  assert.equal(stuckOlder.code, 1);
  assert.match(stuckOlder.err, /^error: the daemon still answered after 1 s: it did not stop/);
});

Deno.test("daemon restart --wait 0 does not wait; --no-run-dir sessions are said to end", async () => {
  const { box, connect } = scriptedBox({ runDir: null });
  const r = await runOn(connect, "daemon restart --wait 0");
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    "daemon (pid 100) stopping for a restart: diversion rules kept; its 1 session end with " +
      "it (it keeps them in process memory: --no-run-dir)\n" +
      "not waiting for the new daemon (--wait 0)",
  );
  assert.equal(box.connects, 1);
  const bad = await runOn(connect, "daemon restart --wait soon");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /'soon' is not a valid number of seconds to wait: give a whole number/);
});

Deno.test("help lists daemon restart and says what it keeps and what it interrupts", async () => {
  const s = shellSession("/nonexistent/fullnat.sock");
  try {
    const help = await s.run("help");
    assert.match(help.out, /^ {2}daemon +the daemon process: restart it in place/m);
    const restart = await s.run("help daemon restart");
    assert.equal(restart.code, 0);
    assert.match(restart.out, /^Usage: daemon restart \[options\]$/m);
    assert.match(restart.out, /--wait <seconds>/);
    assert.match(restart.out, /Keeps every live session/);
    assert.match(restart.out, /packets wait in the kernel's queue/);
    assert.match(restart.out, /a daemon not run by systemd is not started again/);
  } finally {
    await s.close();
  }
});
