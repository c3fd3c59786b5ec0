/**
 * The appliance under qemu for the boot test: the built disk booted by its own GRUB (BIOS) or by
 * direct kernel boot (`-kernel`, `-initrd`, `-append`), each NIC a
 * tap that the test moves into a namespace of its own, KVM when it actually works here and
 * software emulation (TCG) otherwise.
 *
 * Every qemu started here is named `fullnat-boot-<owner pid>`, so a later run can find and kill
 * the machines of a test process that died without cleaning up ({@linkcode killOrphanVms}).
 *
 * @module
 */

import { run } from "../../../testkit/proc.ts";
import { waitFor } from "../../../testkit/wait.ts";

export const QEMU = "qemu-system-x86_64";
const NAME_PREFIX = "fullnat-boot-";

/** One NIC of the VM: a tap that ends up in `netns`, with its MAC. */
export interface VmNic {
  tap: string;
  mac: string;
}

/** Direct kernel boot: qemu loads these instead of the BIOS booting the disk. */
export interface DirectBoot {
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** Options of {@linkcode startVm}. */
export interface VmOptions {
  /** Direct kernel boot; without it the BIOS boots the root disk (GRUB on the disk). */
  direct?: DirectBoot;
  /** The root disk: a qcow2 overlay (the image itself stays unchanged). */
  disk: string;
  /** Extra raw disks attached read-only after the root disk (the seed). */
  extraDisks?: readonly string[];
  nics: readonly VmNic[];
  /** The serial console is written here. */
  serialLog: string;
  accel: "kvm" | "tcg";
  memoryMiB?: number;
  cpus?: number;
  /** Let the guest reboot (default: qemu exits when the guest reboots, `-no-reboot`). */
  allowReboot?: boolean;
  /** A qemu monitor on this unix socket ({@linkcode monitorCommand}: `system_reset`). */
  monitor?: string;
}

/** A running VM. */
export interface Vm {
  readonly pid: number;
  /** `performance.now()` when qemu was started. */
  readonly startedAt: number;
  readonly accel: "kvm" | "tcg";
  /** qemu's own messages so far. */
  stderr(): string;
  /** Whether qemu has exited. */
  exited(): boolean;
  /** Kills qemu and waits for it; safe to call twice. */
  stop(): Promise<void>;
}

/** The qemu command line of {@linkcode startVm}. */
export function qemuArgs(o: VmOptions): string[] {
  const args = [
    "-name",
    `${NAME_PREFIX}${Deno.pid}`,
    "-machine",
    `pc,accel=${o.accel}`,
    "-cpu",
    o.accel === "kvm" ? "host" : "max",
    "-m",
    String(o.memoryMiB ?? 1024),
    "-smp",
    String(o.cpus ?? 2),
    "-nodefaults",
    "-display",
    "none",
    ...(o.allowReboot ? [] : ["-no-reboot"]),
    ...(o.monitor ? ["-monitor", `unix:${o.monitor},server=on,wait=off`] : []),
    "-serial",
    `file:${o.serialLog}`,
    ...(o.direct
      ? ["-kernel", o.direct.kernel, "-initrd", o.direct.initrd, "-append", o.direct.cmdline]
      : []),
    "-drive",
    `file=${o.disk},if=virtio,format=qcow2`,
  ];
  for (const d of o.extraDisks ?? []) {
    args.push("-drive", `file=${d},if=virtio,format=raw,readonly=on`);
  }
  o.nics.forEach((n, i) => {
    args.push(
      "-netdev",
      `tap,id=n${i},ifname=${n.tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=n${i},mac=${n.mac}`,
    );
  });
  return args;
}

/** Starts qemu; the caller must {@linkcode Vm.stop} it. */
export function startVm(o: VmOptions): Vm {
  const startedAt = performance.now();
  const child = new Deno.Command(QEMU, {
    args: qemuArgs(o),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  let done = false;
  const status = child.status.then(() => done = true);
  // Read qemu's stderr as it comes, so a chatty qemu never blocks on a full pipe.
  const drained = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) err += dec.decode(chunk, { stream: true });
  })().catch(() => {});
  let stopped = false;
  return {
    pid: child.pid,
    startedAt,
    accel: o.accel,
    stderr: () => err,
    exited: () => done,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!done) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }
      await status;
      await drained;
    },
  };
}

/**
 * Whether KVM really runs a guest here. `/dev/kvm` can exist and open while the nested layer
 * behind it hangs a stock kernel before its first message, so this boots `kernel` under KVM
 * with an early serial console and waits up to `timeoutMs` for "Linux version".
 */
export async function kvmWorks(kernel: string, timeoutMs = 4000): Promise<boolean> {
  try {
    const f = await Deno.open("/dev/kvm", { read: true, write: true });
    f.close();
  } catch {
    return false;
  }
  const child = new Deno.Command(QEMU, {
    args: [
      "-name",
      `${NAME_PREFIX}${Deno.pid}`,
      "-machine",
      "pc,accel=kvm",
      "-cpu",
      "host",
      "-m",
      "256",
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      "stdio",
      "-kernel",
      kernel,
      "-append",
      "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let seen = "";
  const dec = new TextDecoder();
  const found = (async () => {
    for await (const chunk of child.stdout) {
      seen += dec.decode(chunk, { stream: true });
      if (seen.includes("Linux version")) return true;
    }
    return false;
  })().catch(() => false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => timer = setTimeout(() => r(false), timeoutMs));
  const ok = await Promise.race([found, late]);
  clearTimeout(timer);
  try {
    child.kill("SIGKILL");
  } catch {
    // Exited on its own (qemu refused KVM).
  }
  await child.status;
  await found;
  return ok;
}

/** Waits for qemu to create `tap`, then moves it into `netns`. */
export async function moveTap(tap: string, netns: string, vm: Vm): Promise<void> {
  await waitFor(async () => {
    if (vm.exited()) throw new Error(`qemu exited: ${vm.stderr().trim()}`);
    return (await run(["ip", "link", "show", "dev", tap])).code === 0;
  }, { timeoutMs: 15000, intervalMs: 50, what: `qemu's tap ${tap}` });
  await run(["ip", "link", "set", "dev", tap, "netns", netns], { check: true });
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills the VMs of boot tests whose process no longer exists (found by their qemu `-name`), so
 * a crashed run leaves no machine behind for long. Returns the pids it killed.
 */
export async function killOrphanVms(): Promise<number[]> {
  const killed: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    let argv: string[];
    try {
      argv = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0");
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith(QEMU)) continue;
    const name = argv[argv.indexOf("-name") + 1] ?? "";
    if (!name.startsWith(NAME_PREFIX)) continue;
    const owner = Number(name.slice(NAME_PREFIX.length));
    if (!Number.isInteger(owner) || owner === Deno.pid || pidAlive(owner)) continue;
    try {
      Deno.kill(Number(e.name), "SIGKILL");
      killed.push(Number(e.name));
    } catch {
      // Gone already.
    }
  }
  return killed;
}

/**
 * Waits until the serial console log at `path` matches `pattern` and returns the log; throws
 * when qemu exits first or after `timeoutMs`.
 */
export async function waitForSerial(
  path: string,
  pattern: RegExp,
  vm: Vm,
  timeoutMs: number,
): Promise<string> {
  return await waitFor(async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (pattern.test(text)) return text;
    if (vm.exited()) throw new Error(`qemu exited: ${vm.stderr().trim()}`);
    return undefined;
  }, { timeoutMs, intervalMs: 250, what: `${pattern} on the serial console` });
}

/**
 * Sends one command to the qemu monitor at `socket` (a VM started with `monitor`) and returns
 * what qemu answered. `system_reset` is a power cut and restart: the guest flushes nothing.
 */
export async function monitorCommand(socket: string, command: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await conn.write(new TextEncoder().encode(`${command}\n`));
    // The monitor echoes the command and prints its prompt again once it has run it.
    const dec = new TextDecoder();
    let seen = "";
    const buf = new Uint8Array(4096);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      seen += dec.decode(buf.subarray(0, n), { stream: true });
      if (seen.split("(qemu)").length > 2) break;
    }
    return seen;
  } finally {
    conn.close();
  }
}
