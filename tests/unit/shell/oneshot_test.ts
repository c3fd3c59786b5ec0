/**
 * `fullnat <noun> <verb>` and `fullnat shell -c` as processes, against an in-process daemon
 * on a real socket: output, exit statuses, `--json`, `--socket` and `FULLNAT_SOCKET`.
 */
import assert from "node:assert/strict";
import { startDaemon, type TestDaemon } from "./fixture.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const VIP = "198.51.100.10";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function fullnat(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function withDaemon(fn: (d: TestDaemon, env: Record<string, string>) => Promise<void>) {
  const d = await startDaemon();
  try {
    await fn(d, { FULLNAT_SOCKET: d.socket });
  } finally {
    await d.dispose();
  }
}

Deno.test("one-shot commands change the daemon, print tables or JSON, exit 0", () =>
  withDaemon(async (d, env) => {
    const add = await fullnat(["service", "add", "tcp", `${VIP}:80`, "-s", "rr"], env);
    assert.deepEqual(add, { code: 0, stdout: "", stderr: "" });
    assert.equal(
      (await fullnat(["rs", "add", "tcp", `${VIP}:80`, "203.0.113.11:80"], env)).code,
      0,
    );
    assert.equal(
      (await fullnat(["laddr", "add", "tcp", `${VIP}:80`, "203.0.113.201"], env)).code,
      0,
    );
    assert.equal(d.control.listServices()[0].localAddresses[0].address, "203.0.113.201");

    const table = await fullnat(["show", "services"], env);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^tcp +198\.51\.100\.10:80 +rr +0 +on +on +on +1 +1 +0\n$/m);
    const json = await fullnat(["service", "list", "--json"], env);
    assert.equal(JSON.parse(json.stdout)[0].realServers[0].address, "203.0.113.11");

    // --socket wins over the environment.
    const elsewhere = await fullnat(["service", "list", "--socket", d.socket], {
      FULLNAT_SOCKET: "/nonexistent.sock",
    });
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
    assert.match(elsewhere.stdout, /198\.51\.100\.10:80/);
  }));

Deno.test("one-shot mistakes exit 2 with the fix; refusals and a missing daemon exit 1", () =>
  withDaemon(async (_d, env) => {
    const noPort = await fullnat(["service", "add", "tcp", VIP], env);
    assert.equal(noPort.code, 2);
    assert.match(noPort.stderr, /'198\.51\.100\.10' has no port: write 198\.51\.100\.10:PORT/);
    const nothing = await fullnat(["timeout", "set"], env);
    assert.equal(nothing.code, 2);
    assert.match(
      nothing.stderr,
      /^error: nothing to change: give one or more of --tcp-established/,
    );
    const missing = await fullnat(["service", "delete", "tcp", `${VIP}:81`], env);
    assert.deepEqual(missing, {
      code: 1,
      stdout: "",
      stderr: "error: the daemon refused: No such service\n",
    });
    const down = await fullnat(["stats", "show"], { FULLNAT_SOCKET: "/nonexistent/c.sock" });
    assert.equal(down.code, 1);
    assert.equal(
      down.stderr,
      "error: fullnat daemon is not running (no control socket at /nonexistent/c.sock); " +
        "start it with: fullnat daemon\n",
    );
  }));

Deno.test("config apply - reads the file from standard input", () =>
  withDaemon(async (d, env) => {
    const doc = JSON.stringify({
      version: 1,
      services: [{ protocol: "tcp", address: VIP, port: 80, realServers: [], localAddresses: [] }],
    });
    const check = await fullnat(["config", "check", "-"], env, doc);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^- is valid; applying it would:/);
    assert.equal(d.control.listServices().length, 0);
    const apply = await fullnat(["config", "apply", "-"], env, doc);
    assert.equal(apply.code, 0, apply.stderr);
    assert.equal(d.control.listServices().length, 1);
  }));

Deno.test("fullnat shell -c runs one command line and exits with its status (sshd's way)", () =>
  withDaemon(async (d, env) => {
    const add = await fullnat(["shell", "-c", `service add tcp ${VIP}:80 --scheduler rr`], env);
    assert.deepEqual(add, { code: 0, stdout: "", stderr: "" });
    assert.equal(d.control.listServices()[0].scheduler, "rr");
    const show = await fullnat(["shell", "-c", "show services"], env);
    assert.match(show.stdout, /198\.51\.100\.10:80 +rr/);
    const ipvsadm = await fullnat(["shell", "-c", "ipvsadm -L -n"], env);
    assert.equal(ipvsadm.code, 0);
    assert.match(ipvsadm.stdout, /^TCP {2}198\.51\.100\.10:80 rr/m);

    const escape = await fullnat(["shell", "-c", "/bin/sh -c id"], env);
    assert.equal(escape.code, 2);
    assert.match(escape.stderr, /'\/bin\/sh' is not a command of this shell/);
    const scp = await fullnat(["shell", "-c", "scp -t /tmp"], env);
    assert.equal(scp.code, 2);
    const chained = await fullnat(["shell", "-c", "show services; id"], env);
    assert.equal(chained.code, 2);
    assert.match(chained.stderr, /';' is shell syntax/);
    const refused = await fullnat(["shell", "-c", `service add tcp ${VIP}:80`], env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, "error: the daemon refused: Service already exists\n");
  }));

Deno.test("fullnat restart is the shell's daemon restart: same errors, its own name in them", () =>
  withDaemon(async (d, env) => {
    // The fixture daemon serves no `restart` op, as a daemon from before it existed.
    const older = await fullnat(["restart"], env);
    assert.equal(older.code, 1);
    assert.match(
      older.stderr,
      /^error: the running fullnat daemon does not support 'fullnat restart'/,
    );
    const viaShell = await fullnat(["shell", "-c", "daemon restart"], env);
    assert.equal(viaShell.code, 1);
    assert.match(viaShell.stderr, /does not support 'daemon restart'/);
    const down = await fullnat(["restart", "--socket", `${d.dir}/none.sock`], env);
    assert.deepEqual(down, {
      code: 1,
      stdout: "",
      stderr: `error: fullnat daemon is not running (no control socket at ${d.dir}/none.sock); ` +
        "start it with: fullnat daemon\n",
    });
    const help = await fullnat(["restart", "--help"], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^ {2}fullnat restart --wait 30$/m);
  }));
