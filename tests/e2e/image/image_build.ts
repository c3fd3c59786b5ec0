/**
 * The appliance image for tests: `image/build.sh`, which reuses its cached build when the
 * inputs have not changed, and the facts it records in `build-info`.
 *
 * @module
 */

import { run } from "../../../testkit/proc.ts";

const REPO = decodeURIComponent(new URL("../../../", import.meta.url).pathname).replace(/\/$/, "");

/** A built appliance image: the files of image/build.sh's output directory. */
export interface ApplianceImage {
  dir: string;
  /** The root filesystem as a raw ext4 disk image. */
  raw: string;
  kernel: string;
  initrd: string;
  /** The kernel command line for direct kernel boot. */
  cmdline: string;
  /** `build-info`'s `key=value` lines. */
  info: Record<string, string>;
  /** Whether this call built it (false: the cached build was reused). */
  built: boolean;
  /** How long the call took, in seconds. */
  seconds: number;
}

/** Parses `key=value` lines; other lines are ignored. */
export function parseBuildInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) info[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return info;
}

/** Builds the image (or reuses the cached build) with `bash image/build.sh ARGS`. */
export async function buildImage(
  args: readonly string[] = ["--no-qcow2"],
): Promise<ApplianceImage> {
  const started = performance.now();
  const res = await run(["bash", `${REPO}/image/build.sh`, ...args]);
  const seconds = (performance.now() - started) / 1000;
  if (res.code !== 0) {
    throw new Error(`image/build.sh failed with ${res.code}:\n${res.stderr.trim()}`);
  }
  const dir = res.stdout.trim().split("\n").at(-1) ?? "";
  const info = parseBuildInfo(await Deno.readTextFile(`${dir}/build-info`));
  return {
    dir,
    raw: `${dir}/fullnat.raw`,
    kernel: `${dir}/vmlinuz`,
    initrd: `${dir}/initrd.img`,
    cmdline: (await Deno.readTextFile(`${dir}/cmdline`)).trim(),
    info,
    built: !res.stderr.includes("inputs unchanged"),
    seconds,
  };
}

/** The repository root (where main.ts is). */
export const REPO_ROOT = REPO;
