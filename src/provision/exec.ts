/**
 * Running the system tools provisioning relies on (mtools, mkfs.vfat, blkid, ip), with their
 * output captured and a missing tool reported as the Debian package to install.
 *
 * @module
 */

/** A finished command. */
export interface ExecOutput {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Debian packages that provide the tools used here, for "not found" messages. */
const PACKAGE_OF: Record<string, string> = {
  "mkfs.vfat": "dosfstools",
  mcopy: "mtools",
  mdir: "mtools",
  blkid: "util-linux",
  mount: "mount",
  umount: "mount",
  ip: "iproute2",
  systemctl: "systemd",
  resolvectl: "systemd-resolved",
  timedatectl: "systemd",
};

/** Runs `cmd args...` to completion; throws only when the tool is not installed. */
export async function exec(
  cmd: string,
  args: readonly string[],
  opts: { stdin?: Uint8Array | string; env?: Record<string, string> } = {},
): Promise<ExecOutput> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args: [...args],
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: opts.env,
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      const pkg = PACKAGE_OF[cmd];
      throw new Error(`${cmd} is not installed${pkg ? `; install the ${pkg} package` : ""}`);
    }
    throw e;
  }
  if (opts.stdin !== undefined) {
    const data = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
    const writer = child.stdin.getWriter();
    try {
      await writer.write(data);
    } finally {
      await writer.close().catch(() => {});
    }
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** Like {@linkcode exec} but throws with the tool's own message when it fails. */
export async function execOk(
  cmd: string,
  args: readonly string[],
  opts: { stdin?: Uint8Array | string; env?: Record<string, string> } = {},
): Promise<Uint8Array> {
  const out = await exec(cmd, args, opts);
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${out.stderr.trim()}`);
  }
  return out.stdout;
}
