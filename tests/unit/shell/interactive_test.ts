/**
 * `fullnat shell` as a person (a pseudo-terminal through `script` from bsdutils) and as a
 * script (piped stdin) uses it, against an in-process daemon: prompt, Tab completion of
 * commands and VIPs, refusal of `!sh` and `bash`, Ctrl-C clearing the line, Ctrl-Z ignored,
 * history saved in $HOME, and `exit`.
 */
import assert from "node:assert/strict";
import { startDaemon } from "./fixture.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const VIP = "198.51.100.10";
/**
 * The shell runs with a home of its own (history goes there); Deno's module cache must stay
 * this process's, or the child would fetch its npm packages again into the new home.
 */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A process on a pseudo-terminal, read as it writes. */
class Terminal {
  #text = "";
  #mark = 0;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #pump: Promise<void>;

  constructor(command: string, env: Record<string, string>) {
    const child = new Deno.Command("script", {
      args: ["-q", "-e", "-c", command, "/dev/null"],
      env: { TERM: "xterm", NO_COLOR: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = child.stdin.getWriter();
    this.status = child.status;
    const decoder = new TextDecoder();
    this.#pump = (async () => {
      for await (const chunk of child.stdout) this.#text += decoder.decode(chunk, { stream: true });
    })();
    child.stderr.cancel();
  }

  /** Everything shown so far, escape sequences removed. */
  get screen(): string {
    return this.#text.replace(ANSI, "").replaceAll("\r", "");
  }

  /** Types `keys` and starts a new stretch of output for {@linkcode expect}. */
  async type(keys: string): Promise<void> {
    this.#mark = this.#text.length;
    await this.#writer.write(new TextEncoder().encode(keys));
  }

  /** Waits until the output since the last `type` matches `re`; returns that output. */
  async expect(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const since = this.#text.slice(this.#mark).replace(ANSI, "").replaceAll("\r", "");
      if (re.test(since)) return since;
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for ${re}; the terminal shows:\n${this.screen}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<Deno.CommandStatus> {
    await this.#writer.close().catch(() => {});
    const status = await this.status;
    await this.#pump;
    return status;
  }
}

Deno.test("fullnat shell on a terminal: completion, refusals, Ctrl-C/Ctrl-Z, history, exit", async () => {
  const d = await startDaemon();
  const home = await Deno.makeTempDir({ prefix: "fullnat-home-" });
  const term = new Terminal(`'${Deno.execPath()}' run -A '${MAIN}' shell`, {
    HOME: home,
    DENO_DIR: await denoDir(),
    FULLNAT_SOCKET: d.socket,
  });
  try {
    const host = Deno.hostname();
    const prompt = new RegExp(`fullnat@${host.replaceAll(".", "\\.")}> $`);
    await term.expect(/'help' lists the commands/);
    await term.expect(prompt);

    await term.type(`service add tcp ${VIP}:80 -s rr\r`);
    await term.expect(prompt);
    assert.equal(d.control.listServices().length, 1);

    // Tab completes the command, the verb and the VIP the daemon now has.
    await term.type("ser\t");
    await term.expect(/service $/);
    await term.type("sh\t");
    await term.expect(/show $/);
    await term.type("tcp \t");
    await term.expect(/tcp 198\.51\.100\.10:80 $/);
    await term.type("\r");
    const shown = await term.expect(/clamp mss +on[\s\S]*> $/);
    assert.match(shown, /^scheduler +rr$/m);

    await term.type("show services\r");
    assert.match(await term.expect(prompt), /^tcp +198\.51\.100\.10:80 +rr /m);

    await term.type("!sh\r");
    assert.match(await term.expect(prompt), /there is no system shell here/);
    await term.type("bash\r");
    assert.match(await term.expect(prompt), /'bash' is not a command of this shell/);

    // Ctrl-C throws the half-typed line away: the service survives.
    await term.type(`service delete tcp ${VIP}:80`);
    await term.expect(/:80$/);
    await term.type("\x03");
    await term.expect(/\^C\n[\s\S]*> $/);
    await term.type("\r");
    await term.expect(prompt);
    assert.equal(d.control.listServices().length, 1);

    // Ctrl-Z and Ctrl-\ neither suspend nor kill the login shell.
    await term.type("\x1a\x1c");
    await new Promise((r) => setTimeout(r, 200));
    await term.type("status\r");
    assert.match(await term.expect(prompt), /does not support 'status'/);

    await term.type("exit\r");
    const status = await term.close();
    assert.equal(status.code, 0);
    const history = await Deno.readTextFile(`${home}/.fullnat_history`);
    assert.match(
      history,
      /^service add tcp 198\.51\.100\.10:80 -s rr\nservice show tcp 198\.51\.100\.10:80\n/,
    );
    assert.match(history, /^!sh\nbash\nstatus\nexit\n$/m);
    assert.doesNotMatch(history, /service delete/, "a line cleared with Ctrl-C is not history");
  } finally {
    await term.close();
    await d.dispose();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("fullnat shell on a terminal: reboot asks first, Ctrl-C stops a running ping", async () => {
  const d = await startDaemon();
  const home = await Deno.makeTempDir({ prefix: "fullnat-home-" });
  const term = new Terminal(`'${Deno.execPath()}' run -A '${MAIN}' shell`, {
    HOME: home,
    DENO_DIR: await denoDir(),
    FULLNAT_SOCKET: d.socket,
  });
  try {
    const prompt = /fullnat@[^>]*> $/;
    await term.expect(prompt);
    // The answer goes to the question, not to the command line: "n" runs nothing.
    await term.type("reboot\r");
    await term.expect(/reboot .* now\? .*\[y\/N\] $/);
    await term.type("n\r");
    assert.match(await term.expect(prompt), /nothing done/);
    await term.type("shutdown\r");
    await term.expect(/\[y\/N\] $/);
    await term.type("\r");
    assert.match(await term.expect(prompt), /nothing done/);

    await term.type("ping 127.0.0.1 -c 100\r");
    await term.expect(/icmp_seq=2/);
    await term.type("\x03");
    const stopped = await term.expect(/packets transmitted[\s\S]*> $/);
    assert.doesNotMatch(stopped, /icmp_seq=20/);
    await term.type("exit\r");
    assert.equal((await term.close()).code, 0);
  } finally {
    await term.close();
    await d.dispose();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("fullnat shell with piped input runs the lines, stops at exit, returns the status", async () => {
  const d = await startDaemon();
  try {
    const script = [
      `service add tcp ${VIP}:80`,
      "# a comment",
      "show services",
      "!sh",
      "bash",
      "exit",
      `service delete tcp ${VIP}:80`,
    ].join("\n") + "\n";
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "shell"],
      env: { FULLNAT_SOCKET: d.socket, HOME: "/nonexistent", DENO_DIR: await denoDir() },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(script));
    await w.close();
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0);
    assert.match(stdout, /^tcp +198\.51\.100\.10:80 +wrr /m);
    assert.doesNotMatch(stdout, /fullnat@/, "no prompt without a terminal");
    assert.match(stderr, /there is no system shell here/);
    assert.match(stderr, /'bash' is not a command of this shell/);
    assert.equal(d.control.listServices().length, 1, "nothing after exit ran");

    // Without exit, the status is the last command's.
    const failing = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "shell"],
      env: { FULLNAT_SOCKET: d.socket },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const fw = failing.stdin.getWriter();
    await fw.write(new TextEncoder().encode(`service add tcp ${VIP}:80\n`));
    await fw.close();
    assert.equal((await failing.status).code, 1);
  } finally {
    await d.dispose();
  }
});
