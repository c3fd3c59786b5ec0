/**
 * Packet captures for the admin shell's `capture` (ops `captureStart`, `captureStop`,
 * `captureList`, `captureDelete`). The daemon runs tcpdump because capturing needs root and
 * the admin is not: tcpdump writes pcap to its stdout (`-w -`), and the daemon writes whole
 * packets to a file in the capture directory until the size limit, so a file never passes
 * it and always ends on a packet. Every capture is bounded in packets (`-c`), bytes and
 * seconds; at most {@linkcode CAPTURE_LIMITS.files} files are kept and one capture runs at a
 * time. Values reach tcpdump as checked words after `--`, so none can be read as an option.
 * The files are readable by the daemon's group (fullnat on the appliance): `capture show`
 * reads them in the admin's own process.
 *
 * @module
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { ControlError } from "../fullnat/types.ts";
import { PcapLimiter } from "./pcap_limit.ts";

/** Bounds of a capture; defaults are what the shell asks for unless told. */
export const CAPTURE_LIMITS = {
  /** Files kept in the directory; a start beyond refuses (delete some). */
  files: 10,
  maxPackets: 1_000_000,
  defaultPackets: 10_000,
  maxMegabytes: 100,
  defaultMegabytes: 10,
  maxSeconds: 3600,
  defaultSeconds: 300,
};

/** What `captureStart` takes. */
export interface CaptureRequest {
  interface: string;
  /** BPF filter words, empty for every packet. */
  filter: string[];
  name?: string;
  packets?: number;
  megabytes?: number;
  seconds?: number;
}

/** One capture file as `captureList` shows it. */
export interface CaptureFile {
  name: string;
  bytes: number;
  modified: string;
  /** Set while this daemon runs or ran the capture. */
  running: boolean;
  interface?: string;
  filter?: string;
  packets?: number;
  /** Why it ended: "packets", "size", "time", "stopped", "tcpdump exited: ...". */
  ended?: string;
}

/** A started program: what {@linkcode Captures} needs of tcpdump. */
export interface CaptureProcess {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number }>;
  kill(signal: Deno.Signal): void;
}

/** Starts a program (tests pass one that plays tcpdump). */
export type Spawn = (argv: string[]) => CaptureProcess;

const spawnSystem: Spawn = (argv) => {
  try {
    return new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ControlError("unsupported", `${argv[0]} is not installed on this box`);
    }
    throw e;
  }
};

function invalid(message: string): ControlError {
  return new ControlError("invalid-argument", message);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Characters BPF filters are written with; quotes, '$', '`', ';', '\\' are not among them. */
const FILTER_WORD = /^[A-Za-z0-9_.:/\[\]()!&|<>=+*%^~-]{1,200}$/;
const IFACE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** Checks a capture file name: letters, digits, `_.-`, ending in `.pcap`, no path. */
export function checkCaptureName(name: unknown): string {
  if (
    typeof name !== "string" || !NAME.test(name) || !name.endsWith(".pcap") || name.includes("..")
  ) {
    throw invalid(
      `'${String(name)}' is not a capture file name: letters, digits, '_', '.', '-', ` +
        `ending in .pcap, no directories (see capture list)`,
    );
  }
  return name;
}

function whole(v: unknown, what: string, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > max) {
    throw invalid(`${what} must be a whole number from 1 to ${max} (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Checks a `captureStart` request and fills in the defaults. */
export function checkCaptureRequest(
  req: unknown,
  now: Date,
): Required<CaptureRequest> {
  if (typeof req !== "object" || req === null || Array.isArray(req)) {
    throw invalid(
      "captureStart takes { interface, filter, name?, packets?, megabytes?, seconds? }",
    );
  }
  const r = req as Record<string, unknown>;
  const unknownKeys = Object.keys(r).filter((k) =>
    !["interface", "filter", "name", "packets", "megabytes", "seconds"].includes(k)
  );
  if (unknownKeys.length) throw invalid(`captureStart does not take ${unknownKeys.join(", ")}`);
  if (typeof r.interface !== "string" || (r.interface !== "any" && !IFACE.test(r.interface))) {
    throw invalid(`'${String(r.interface)}' is not an interface name (e.g. eth0, or any)`);
  }
  const filter = r.filter ?? [];
  if (!Array.isArray(filter) || filter.length > 100) {
    throw invalid("the filter is a list of at most 100 words");
  }
  for (const w of filter) {
    if (typeof w !== "string" || !FILTER_WORD.test(w)) {
      throw invalid(
        `'${String(w)}' cannot be part of a capture filter: write it with letters, digits ` +
          `and BPF's operators (e.g. tcp port 80 and host 192.0.2.10)`,
      );
    }
  }
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const name = r.name === undefined ? `${r.interface}-${stamp}.pcap` : checkCaptureName(
    typeof r.name === "string" && !r.name.endsWith(".pcap") ? `${r.name}.pcap` : r.name,
  );
  return {
    interface: r.interface,
    filter: filter as string[],
    name,
    packets: whole(r.packets, "packets", CAPTURE_LIMITS.maxPackets, CAPTURE_LIMITS.defaultPackets),
    megabytes: whole(
      r.megabytes,
      "megabytes",
      CAPTURE_LIMITS.maxMegabytes,
      CAPTURE_LIMITS.defaultMegabytes,
    ),
    seconds: whole(r.seconds, "seconds", CAPTURE_LIMITS.maxSeconds, CAPTURE_LIMITS.defaultSeconds),
  };
}

/** The tcpdump command line of a checked request: pcap to stdout, packet-buffered. */
export function tcpdumpArgv(req: Required<CaptureRequest>): string[] {
  return [
    "tcpdump",
    "-i",
    req.interface,
    "-n",
    "-U",
    "-s",
    "262144",
    "-c",
    String(req.packets),
    "-w",
    "-",
    "--",
    ...req.filter,
  ];
}

interface Running {
  file: CaptureFile;
  process: CaptureProcess;
  timer: ReturnType<typeof setTimeout>;
  done: Promise<void>;
  end(why: string): void;
}

/** Options of {@linkcode Captures}. */
export interface CapturesOptions {
  dir: string;
  log: (message: string) => void;
  spawn?: Spawn;
  now?: () => Date;
}

/** The captures of one daemon; see the module doc. */
export class Captures {
  readonly dir: string;
  readonly #log: (m: string) => void;
  readonly #spawn: Spawn;
  readonly #now: () => Date;
  #running: Running | undefined;
  /** What this daemon knows of captures it ran (packets, why they ended). */
  readonly #known = new Map<string, CaptureFile>();
  /** Counters for `status`. */
  readonly counters = { started: 0, endedBySize: 0, endedByTime: 0, endedByPackets: 0 };

  constructor(o: CapturesOptions) {
    this.dir = o.dir;
    this.#log = o.log;
    this.#spawn = o.spawn ?? spawnSystem;
    this.#now = o.now ?? (() => new Date());
  }

  #files(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n.endsWith(".pcap")).sort();
    } catch {
      return [];
    }
  }

  /** Starts a capture; resolves once tcpdump listens (or refuses with tcpdump's words). */
  async start(request: unknown): Promise<CaptureFile> {
    const req = checkCaptureRequest(request, this.#now());
    if (this.#running !== undefined) {
      throw invalid(
        `capture ${this.#running.file.name} is running: 'capture stop' it first ` +
          `(one capture at a time)`,
      );
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const files = this.#files();
    if (files.includes(req.name)) throw invalid(`${req.name} exists already: pick another name`);
    if (files.length >= CAPTURE_LIMITS.files) {
      throw invalid(
        `${files.length} capture files are kept already (at most ${CAPTURE_LIMITS.files}): ` +
          `'capture delete' some first`,
      );
    }
    const path = join(this.dir, req.name);
    const fd = openSync(path, "wx", 0o640);
    const file: CaptureFile = {
      name: req.name,
      bytes: 0,
      modified: this.#now().toISOString(),
      running: true,
      interface: req.interface,
      filter: req.filter.join(" "),
      packets: 0,
    };
    let child: CaptureProcess;
    try {
      child = this.#spawn(tcpdumpArgv(req));
    } catch (e) {
      closeSync(fd);
      unlinkSync(path);
      throw e;
    }
    const limiter = new PcapLimiter(req.megabytes * 1_000_000, (b) => {
      for (let off = 0; off < b.length;) off += writeSync(fd, b, off);
    });
    let stderr = "";
    let listening!: () => void;
    const started = new Promise<void>((r) => listening = r);
    let ended: string | undefined;
    const end = (why: string) => {
      if (ended !== undefined) return;
      ended = why;
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
    };
    const readErr = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) {
        stderr += dec.decode(chunk, { stream: true });
        if (/listening on/.test(stderr)) listening();
        if (stderr.length > 8192) stderr = stderr.slice(-4096);
      }
    })();
    const readOut = (async () => {
      for await (const chunk of child.stdout) {
        if (ended !== undefined) continue;
        if (limiter.push(chunk) === "full") end("size");
        file.bytes = limiter.bytes;
        file.packets = limiter.packets;
      }
    })();
    const timer = setTimeout(() => end("time"), req.seconds * 1000);
    const done = (async () => {
      const [status] = await Promise.all([
        child.status,
        readErr,
        readOut.catch((e) => {
          end(`unreadable output: ${e instanceof Error ? e.message : e}`);
        }),
      ]);
      clearTimeout(timer);
      closeSync(fd);
      listening();
      file.running = false;
      file.bytes = limiter.bytes;
      file.packets = limiter.packets;
      file.modified = this.#now().toISOString();
      if (ended === undefined) {
        ended = status.code === 0 ? "packets" : `tcpdump exited: ${lastLine(stderr)}`;
      }
      file.ended = ended;
      if (ended === "size") this.counters.endedBySize++;
      if (ended === "time") this.counters.endedByTime++;
      if (ended === "packets") this.counters.endedByPackets++;
      if (this.#running?.file === file) this.#running = undefined;
      this.#log(
        `capture ${file.name} ended (${ended}): ${file.packets} packet(s), ${file.bytes} bytes`,
      );
    })();
    this.#running = { file, process: child, timer, done, end };
    this.#known.set(file.name, file);
    await Promise.race([started, done]);
    if (!file.running && file.ended !== "packets" && file.packets === 0) {
      // tcpdump refused (no such interface, a filter it cannot compile): nothing was captured.
      this.#known.delete(file.name);
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
      throw invalid(`tcpdump refused: ${lastLine(stderr) || "it exited at once"}`);
    }
    this.counters.started++;
    this.#log(`capture ${file.name} started on ${req.interface}: ${tcpdumpArgv(req).join(" ")}`);
    return { ...file };
  }

  /** Stops the running capture (`name`, when given, must be it). */
  async stop(name?: unknown): Promise<CaptureFile> {
    const r = this.#running;
    if (r === undefined) throw invalid("no capture is running");
    if (name !== undefined && name !== null && checkCaptureName(name) !== r.file.name) {
      throw invalid(`${String(name)} is not running (${r.file.name} is)`);
    }
    r.end("stopped");
    await r.done;
    return { ...r.file };
  }

  /** The capture files, oldest name first, with what this daemon knows of each. */
  list(): { dir: string; files: CaptureFile[] } {
    const files = this.#files().map((name): CaptureFile => {
      const known = this.#known.get(name);
      let bytes = 0;
      let modified = "";
      try {
        const st = statSync(join(this.dir, name));
        bytes = st.size;
        modified = st.mtime.toISOString();
      } catch {
        // Deleted meanwhile.
      }
      return known ? { ...known, bytes: known.running ? bytes : known.bytes } : {
        name,
        bytes,
        modified,
        running: false,
      };
    });
    return { dir: this.dir, files };
  }

  /** Deletes a file that is not being written. */
  delete(name: unknown): { deleted: string } {
    const n = checkCaptureName(name);
    if (this.#running?.file.name === n) throw invalid(`${n} is running: 'capture stop' it first`);
    try {
      unlinkSync(join(this.dir, n));
    } catch (e) {
      if (e instanceof Error && "code" in e && e.code === "ENOENT") {
        throw invalid(`there is no capture file ${n} (see capture list)`);
      }
      throw e;
    }
    this.#known.delete(n);
    return { deleted: n };
  }

  /** Ends a running capture (the daemon is stopping). */
  async close(): Promise<void> {
    const r = this.#running;
    if (r === undefined) return;
    r.end("daemon stopped");
    await r.done;
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) =>
    !/listening on|packets? (captured|received|dropped)/.test(l)
  )
    .at(-1) ?? "";
}
