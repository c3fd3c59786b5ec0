/**
 * Start-up time of one-shot admin commands, before and after: N runs each of
 * `fullnat service list` and `fullnat shell -c "service list"` (what `ssh admin@box COMMAND`
 * runs) with this checkout's main.ts and with another revision's (extracted with `git
 * archive`), interleaved so a busy machine slows both alike, against an in-process daemon
 * with 20 services. Prints median and p90 wall time of each, side by side.
 *
 *   deno run -A bench/shell_startup.ts [--runs 20] [--before REV]
 *
 * Every run uses `--cached-only` with the same DENO_DIR, as the appliance's wrapper does; one
 * untimed run of each warms the caches first.
 *
 * @module
 */
import { ControlServer } from "../src/ctl/server.ts";
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";
import { attachPersistence } from "../src/persist/attach.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const runs = Number(arg("--runs", "20"));
const before = arg("--before", "b8734e5");
const root = new URL("../", import.meta.url).pathname;

/** Extracts `rev` of this repository into a temp dir; returns its main.ts. */
async function extract(rev: string): Promise<{ main: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-bench-before-" });
  const archive = await new Deno.Command("git", {
    args: ["-C", root, "archive", "--format=tar", rev, "main.ts", "deno.json", "deno.lock", "src"],
    stdout: "piped",
  }).output();
  if (archive.code !== 0) throw new Error(`git archive ${rev} failed`);
  const tar = new Deno.Command("tar", { args: ["-x", "-C", dir], stdin: "piped" }).spawn();
  const w = tar.stdin.getWriter();
  await w.write(archive.stdout);
  await w.close();
  if (!(await tar.status).success) throw new Error("tar failed");
  return { main: `${dir}/main.ts`, dir };
}

async function daemon() {
  const control = new EngineControl(new Engine({ clock: () => 0, capacity: 1024 }));
  for (let i = 0; i < 20; i++) {
    control.addService({ protocol: "tcp", address: `198.51.100.${i + 1}`, port: 80 }, {
      scheduler: "rr",
      persistence: 0,
    });
  }
  const p = await attachPersistence(control, { stateDir: null, log: () => {} });
  const server = new ControlServer(p.target, { onError: () => {} });
  p.register(server);
  const dir = await Deno.makeTempDir({ prefix: "fullnat-bench-sock-" });
  const socket = `${dir}/control.sock`;
  await server.listen({ path: socket });
  return { socket, dir, close: () => server.close() };
}

async function once(main: string, socket: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--cached-only", "--no-prompt", "--quiet", "-A", main, ...args],
    env: { FULLNAT_SOCKET: socket, DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const out = new TextDecoder().decode(r.stdout);
  if (r.code !== 0 || !out.includes("198.51.100.20")) {
    throw new Error(`${main} ${args.join(" ")} failed: ${new TextDecoder().decode(r.stderr)}`);
  }
  return ms;
}

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: at(0.5), p90: at(0.9) };
}

const d = await daemon();
const old = await extract(before);
try {
  const cases = [
    ["service list (one-shot)", ["service", "list"]],
    ['shell -c "service list" (ssh)', ["shell", "-c", "service list"]],
  ] as const;
  const mains = { before: old.main, after: `${root}main.ts` };
  const times = new Map<string, number[]>();
  for (const [name, args] of cases) {
    for (const [which, main] of Object.entries(mains)) {
      await once(main, d.socket, [...args]);
      times.set(`${name} ${which}`, []);
    }
  }
  for (let i = 0; i < runs; i++) {
    for (const [name, args] of cases) {
      for (const [which, main] of Object.entries(mains)) {
        times.get(`${name} ${which}`)!.push(await once(main, d.socket, [...args]));
      }
    }
  }
  console.log(`${runs} runs each, before = ${before}, after = this checkout (ms)`);
  console.log(
    `${"command".padEnd(32)}  ${"before median".padStart(13)}  ${"p90".padStart(6)}  ` +
      `${"after median".padStart(12)}  ${"p90".padStart(6)}  ${"cut".padStart(5)}`,
  );
  for (const [name] of cases) {
    const b = stats(times.get(`${name} before`)!);
    const a = stats(times.get(`${name} after`)!);
    const cut = Math.round((1 - a.median / b.median) * 100);
    console.log(
      `${name.padEnd(32)}  ${b.median.toFixed(0).padStart(13)}  ${b.p90.toFixed(0).padStart(6)}  ` +
        `${a.median.toFixed(0).padStart(12)}  ${a.p90.toFixed(0).padStart(6)}  ${
          `${cut}%`.padStart(5)
        }`,
    );
  }
} finally {
  await d.close();
  await Deno.remove(d.dir, { recursive: true });
  await Deno.remove(old.dir, { recursive: true });
}
