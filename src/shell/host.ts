/**
 * The machine under the admin shell, as the commands that act on it see it: programs run with
 * a fixed argument list (never through a system shell), files read by path. Commands take it
 * from their context, so tests hand them a fake that records the argv and answers as told,
 * and nothing runs on (or reboots) the test machine.
 *
 * @module
 */

/** Where a program's output goes, as raw bytes. */
export interface ByteSink {
  (chunk: Uint8Array, stream: "out" | "err"): Promise<void>;
}

/** Files the commands read; tests point them at temp files. */
export interface HostPaths {
  /** Written by the image build: `VERSION=`, `BUILT=` (image/configure.sh). */
  release: string;
  /** The distribution's os-release. */
  osRelease: string;
  /** Seconds since boot, first field. */
  uptime: string;
  /** The code's version, written beside main.ts by the image build (absent in a checkout). */
  codeVersion: string;
  /** The directory of the code, for `git describe` when it is a checkout. */
  codeDir: string;
}

/** The machine: programs and files. */
export interface Host {
  readonly paths: HostPaths;
  /**
   * Runs `argv` (no shell; argv[0] found on PATH) with stdin closed, streaming its output to
   * `sink`; resolves with its exit status. An aborted `signal` stops the program (SIGINT, then
   * SIGKILL after a second) and resolves with its status.
   */
  run(argv: readonly string[], sink: ByteSink, signal?: AbortSignal): Promise<number>;
  /** Runs `argv` and returns what it printed (for short answers such as `git describe`). */
  output(argv: readonly string[]): Promise<{ code: number; stdout: string }>;
  /** A text file, or undefined when it is not there or cannot be read. */
  readText(path: string): Promise<string | undefined>;
  /** A file's bytes as they are read (`capture show`). */
  openRead(path: string): Promise<ReadableStream<Uint8Array>>;
  /** True when standard output is a terminal (binary output would garble it). */
  stdoutIsTerminal(): boolean;
}

const codeDir = new URL("../../", import.meta.url).pathname;

/** The paths on a real machine (the appliance, or a checkout). */
export const SYSTEM_PATHS: HostPaths = {
  release: "/etc/fullnat-release",
  osRelease: "/etc/os-release",
  uptime: "/proc/uptime",
  codeVersion: `${codeDir}VERSION`,
  codeDir,
};

async function pump(
  stream: ReadableStream<Uint8Array>,
  sink: ByteSink,
  which: "out" | "err",
): Promise<void> {
  for await (const chunk of stream) await sink(chunk, which);
}

/** The real machine: Deno.Command. */
export function systemHost(paths: HostPaths = SYSTEM_PATHS): Host {
  return {
    paths,
    async run(argv, sink, signal) {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(argv[0], {
          args: argv.slice(1),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new Error(`${argv[0]} is not installed on this machine`);
        }
        throw e;
      }
      let killer: ReturnType<typeof setTimeout> | undefined;
      const stop = () => {
        try {
          child.kill("SIGINT");
          killer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // Already gone.
            }
          }, 1000);
        } catch {
          // Already gone.
        }
      };
      signal?.addEventListener("abort", stop, { once: true });
      try {
        await Promise.all([
          pump(child.stdout, sink, "out"),
          pump(child.stderr, sink, "err"),
        ]);
        return (await child.status).code;
      } catch (e) {
        // Our own output failed (the reader went away): the program must not run on.
        stop();
        throw e;
      } finally {
        signal?.removeEventListener("abort", stop);
        clearTimeout(killer);
      }
    },
    async output(argv) {
      try {
        const r = await new Deno.Command(argv[0], {
          args: argv.slice(1),
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).output();
        return { code: r.code, stdout: new TextDecoder().decode(r.stdout) };
      } catch {
        return { code: 127, stdout: "" };
      }
    },
    async readText(path) {
      try {
        return await Deno.readTextFile(path);
      } catch {
        return undefined;
      }
    },
    async openRead(path) {
      return (await Deno.open(path, { read: true })).readable;
    },
    stdoutIsTerminal() {
      try {
        return Deno.stdout.isTerminal();
      } catch {
        return false;
      }
    },
  };
}
