/**
 * The run directory (`fullnat daemon --run-dir`, default `/run/fullnat`): one file per packet
 * worker holding everything its sessions need to outlive the process (README "Sessions
 * outlive the daemon"), mapped shared (`shared_file.ts`):
 *
 *     header (4 KiB)   magic, layout version, shape (capacity, workers, worker, port slice),
 *                      boot id, ISN secret, sealed flag
 *     owner records    what each service / real-server / local-address id named
 *                      (`src/fullnat/owner_log.ts`)
 *     session fields   every per-session array of the table (`src/fullnat/session_table.ts`)
 *
 * A daemon started again maps the same file and takes the sessions over. A file it cannot
 * trust (not ours, another layout version, another boot, another shape) is moved aside with
 * the reason logged, and the worker starts empty. A different number of workers is refused
 * before anything starts ({@linkcode checkWorkerCount}): each worker's sessions are steered to
 * it by their local ports, so they cannot be handed to another.
 *
 * @module
 */
import { OwnerLog, type OwnerSnapshot } from "../fullnat/owner_log.ts";
import { SessionTable } from "../fullnat/session_table.ts";
import { bootId, SharedFile } from "./shared_file.ts";
import { clearCounters } from "./counter_carry.ts";
import { clearTemplates } from "./template_carry.ts";
import { removeIfPresent } from "./whole_file.ts";

const MAGIC = 0x464e5354; // "FNST"
/**
 * Raised whenever the file's layout changes; a daemon refuses another version's file, except
 * version 1, whose fields all come first in version 2 (the file grows by the rest).
 */
export const LAYOUT_VERSION = 2;
const HEADER = 4096;
const H = {
  MAGIC: 0,
  VERSION: 4,
  CAPACITY: 8,
  WORKERS: 12,
  INDEX: 16,
  PORT_LOW: 20,
  PORT_HIGH: 22,
  ISN: 24,
  BOOT_LEN: 32,
  BOOT: 33,
  SEALED: 96,
} as const;
const BOOT_MAX = H.SEALED - H.BOOT;

/** What a worker's file must match to be taken over. */
export interface RunStateShape {
  capacity: number;
  workers: number;
  index: number;
  localPorts: readonly [number, number];
}

/** A worker's attached run state. */
export interface RunState {
  file: SharedFile;
  /** The ISN secret, shared with the previous process so sequence translation carries on. */
  isnSecret: Uint32Array;
  owners: OwnerLog;
  sessionMemory: { buffer: ArrayBuffer; offset: number };
  /**
   * The previous process's owner records when its sessions are to be taken over; undefined
   * when the table starts empty.
   */
  previous: OwnerSnapshot | undefined;
  /** Why a file found was not taken over (it was moved aside), if one was. */
  refused: string | undefined;
  /** Where the refused file was moved. */
  refusedPath: string | undefined;
  /** Set when a file of an older layout was grown into this one, its sessions kept. */
  upgraded?: string;
}

/** The file of worker `index`. */
export function workerFile(dir: string, index: number): string {
  return `${dir}/worker-${index}.sessions`;
}

/** Bytes of a worker's file for `capacity` sessions. */
export function runStateBytes(capacity: number): number {
  return HEADER + OwnerLog.bytes() + SessionTable.bytes(capacity);
}

/**
 * Throws, naming what to do, when `dir` holds the sessions of a different number of workers
 * than `workers` (their files would be orphaned or missing).
 */
export function checkWorkerCount(dir: string, workers: number): void {
  const found: number[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      const m = /^worker-([0-9]+)\.sessions$/.exec(e.name);
      if (m) found.push(Number(m[1]));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (found.length === 0) return;
  // A file that is not a sound table is refused by its worker later; count by the sound ones.
  const sound = found.map((i) => readHeader(workerFile(dir, i)))
    .filter((h) => h !== undefined && h.magic === MAGIC && h.sealed === 1);
  if (sound.length === 0) return;
  const n = sound[0]!.workers;
  if (n === workers && found.every((i) => i < workers)) return;
  throw new Error(
    `the run directory ${dir} holds the live sessions of ${n} worker(s), and this daemon was ` +
      `started with --workers ${workers}: each worker's sessions reach it by their local ` +
      `ports, so they cannot be handed to another. Start with --workers ${n} to keep them, ` +
      `or stop the daemon deliberately first (SIGTERM, 'systemctl stop fullnat'), which ends ` +
      `them and clears the directory`,
  );
}

interface Header {
  magic: number;
  version: number;
  capacity: number;
  workers: number;
  index: number;
  portLow: number;
  portHigh: number;
  boot: string;
  sealed: number;
}

function readHeader(path: string): Header | undefined {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const b = new Uint8Array(HEADER);
    let n = 0;
    while (n < HEADER) {
      const r = f.readSync(b.subarray(n));
      if (r === null) break;
      n += r;
    }
    if (n < HEADER) return undefined;
    const v = new DataView(b.buffer);
    const bootLen = Math.min(b[H.BOOT_LEN], BOOT_MAX);
    return {
      magic: v.getUint32(H.MAGIC, true),
      version: v.getUint32(H.VERSION, true),
      capacity: v.getUint32(H.CAPACITY, true),
      workers: v.getUint32(H.WORKERS, true),
      index: v.getUint32(H.INDEX, true),
      portLow: v.getUint16(H.PORT_LOW, true),
      portHigh: v.getUint16(H.PORT_HIGH, true),
      boot: new TextDecoder().decode(b.subarray(H.BOOT, H.BOOT + bootLen)),
      sealed: v.getUint32(H.SEALED, true),
    };
  } finally {
    f.close();
  }
}

/** Why the file at `path` cannot be taken over by a worker of `shape`, or undefined. */
function distrust(path: string, shape: RunStateShape, boot: string): string | undefined {
  const h = readHeader(path);
  if (h === undefined) return "it is shorter than its header";
  if (h.magic !== MAGIC) return "it is not a fullnat session table";
  if (h.version !== LAYOUT_VERSION && h.version !== 1) {
    return `its layout version is ${h.version}, this daemon reads versions 1 and ${LAYOUT_VERSION}`;
  }
  if (h.sealed !== 1) return "its header was never completed";
  if (h.boot !== boot) return "it was written before the box restarted (its clock is gone)";
  if (h.capacity !== shape.capacity) {
    return `it holds ${h.capacity} sessions per worker and this daemon ${shape.capacity} ` +
      `(--max-sessions changed)`;
  }
  if (h.workers !== shape.workers || h.index !== shape.index) {
    return `it belongs to worker ${h.index} of ${h.workers}`;
  }
  if (h.portLow !== shape.localPorts[0] || h.portHigh !== shape.localPorts[1]) {
    return `its local ports are ${h.portLow}-${h.portHigh}, this worker's ` +
      `${shape.localPorts[0]}-${shape.localPorts[1]} (--local-ports changed)`;
  }
  const size = Deno.statSync(path).size;
  const want = h.version === 1 ? runStateBytesV1(shape.capacity) : runStateBytes(shape.capacity);
  if (size !== want) return `it is ${size} bytes long, not ${want}`;
  return undefined;
}

/** A version-1 file's length: its session fields end before the SYN proxy's. */
function runStateBytesV1(capacity: number): number {
  return HEADER + OwnerLog.bytes() + SessionTable.bytesV1(capacity);
}

/**
 * Maps worker `shape.index`'s file in `dir`, taking over the sessions in it when it can be
 * trusted; otherwise moves it aside and starts an empty one.
 */
export function attachRunState(dir: string, shape: RunStateShape): RunState {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = workerFile(dir, shape.index);
  const boot = bootId();
  let refused: string | undefined;
  let refusedPath: string | undefined;
  let upgraded: string | undefined;
  let exists = true;
  try {
    Deno.statSync(path);
  } catch {
    exists = false;
  }
  if (exists) {
    refused = distrust(path, shape, boot);
    if (refused !== undefined) {
      refusedPath = `${path}.refused-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      Deno.renameSync(path, refusedPath);
      exists = false;
    }
  }
  const size = runStateBytes(shape.capacity);
  // A version-1 table (the previous release's) grows by the fields added since, zero-filled:
  // they are the SYN proxy's, and none of its sessions is proxied. Its sessions are kept.
  if (exists && readHeader(path)?.version === 1) {
    Deno.truncateSync(path, size);
    upgraded = `layout version 1 -> ${LAYOUT_VERSION}`;
  }
  const file = SharedFile.open(path, size);
  const bytes = new Uint8Array(file.bytes);
  const view = new DataView(file.bytes);
  const owners = new OwnerLog(bytes.subarray(HEADER, HEADER + OwnerLog.bytes()));
  const isnSecret = new Uint32Array(file.bytes, H.ISN, 2);
  let previous: OwnerSnapshot | undefined;
  if (exists) {
    previous = owners.snapshot();
    if (upgraded !== undefined) view.setUint32(H.VERSION, LAYOUT_VERSION, true);
  } else {
    crypto.getRandomValues(isnSecret);
    view.setUint32(H.MAGIC, MAGIC, true);
    view.setUint32(H.VERSION, LAYOUT_VERSION, true);
    view.setUint32(H.CAPACITY, shape.capacity, true);
    view.setUint32(H.WORKERS, shape.workers, true);
    view.setUint32(H.INDEX, shape.index, true);
    view.setUint16(H.PORT_LOW, shape.localPorts[0], true);
    view.setUint16(H.PORT_HIGH, shape.localPorts[1], true);
    const b = new TextEncoder().encode(boot).subarray(0, BOOT_MAX);
    bytes[H.BOOT_LEN] = b.length;
    bytes.set(b, H.BOOT);
    // Last, so a header torn by a crash is refused rather than half-trusted.
    view.setUint32(H.SEALED, 1, true);
  }
  return {
    file,
    isnSecret,
    owners,
    sessionMemory: { buffer: file.bytes, offset: HEADER + OwnerLog.bytes() },
    previous,
    refused,
    refusedPath,
    upgraded,
  };
}

/** Removes the workers' files (after a deliberate stop, which ends their sessions). */
export function clearRunState(dir: string, workers: number): void {
  for (let i = 0; i < workers; i++) {
    clearCounters(dir, i);
    clearTemplates(dir, i);
    removeIfPresent(workerFile(dir, i));
  }
}
