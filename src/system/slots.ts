/**
 * What `system show` says about the appliance's A/B root slots (README "Appliance image",
 * "Upgrade"), read from the files the image keeps: GRUB's environment block (which slot boots by
 * default, and a one-shot `next_entry` after an upgrade), the kernel command line
 * (`fullnat.slot=`: which slot runs), and the records `fullnat-slot` writes on the data
 * partition (`/data/system/slot-a`, `slot-b`: version, state, when). Pure parsing plus one
 * reader with injectable paths, so the views are tested without a box.
 *
 * @module
 */

/** The two root slots. */
export const SLOTS = ["a", "b"] as const;
export type Slot = typeof SLOTS[number];

/** Where the facts are on the appliance. */
export interface SlotPaths {
  grubenv: string;
  cmdline: string;
  systemDir: string;
  /** This root's own image stamp (`/etc/fullnat-image`, written by image/build.sh). */
  imageStamp: string;
  /** The link udev makes to the data partition, and where sysfs lists block devices. */
  dataLink: string;
  sysBlock: string;
}

export const APPLIANCE_PATHS: SlotPaths = {
  grubenv: "/boot/loader/grub/grubenv",
  cmdline: "/proc/cmdline",
  systemDir: "/data/system",
  imageStamp: "/etc/fullnat-image",
  dataLink: "/dev/disk/by-label/fullnat-data",
  sysBlock: "/sys/class/block",
};

/** One slot as `system show` lists it. */
export interface SlotView {
  slot: Slot;
  /** The version its record names, or undefined for a slot never written. */
  version?: string;
  /** `good`, `trial`, `failed`, `incomplete`, or `empty`. */
  state: string;
  active: boolean;
  default: boolean;
  /** Booted once at the next boot (an upgrade waiting for its reboot). */
  next: boolean;
  note?: string;
  installed?: string;
  confirmed?: string;
}

/** The whole `system show`. */
export interface SystemView {
  running?: Slot;
  runningVersion?: string;
  defaultSlot: Slot;
  slots: SlotView[];
  /** The last lines of `/data/system/events` (upgrades, confirmations, fallbacks). */
  events: string[];
  /** The data partition (grown to the disk at boot): its device and size. */
  data?: { device: string; bytes: number };
}

/** `key=value` lines; a `#` line (grubenv's padding) and other lines are skipped. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

const isSlot = (v: string | undefined): v is Slot => v === "a" || v === "b";

/** The slot `fullnat.slot=` names on a kernel command line, if any. */
export function runningSlot(cmdline: string): Slot | undefined {
  for (const word of cmdline.trim().split(/\s+/)) {
    const m = /^fullnat\.slot=(.*)$/.exec(word);
    if (m && isSlot(m[1])) return m[1];
  }
  return undefined;
}

/** Builds the view from the files' texts (undefined: the file is missing). */
export function systemView(input: {
  grubenv?: string;
  cmdline?: string;
  records: Partial<Record<Slot, string>>;
  imageStamp?: string;
  events?: string;
  data?: { device: string; bytes: number };
}): SystemView {
  const env = parseKeyValues(input.grubenv ?? "");
  const defaultSlot: Slot = isSlot(env.fullnat_default) ? env.fullnat_default : "a";
  const next = /^slot-([ab])$/.exec(env.next_entry ?? "")?.[1];
  const running = runningSlot(input.cmdline ?? "");
  const runningVersion = parseKeyValues(input.imageStamp ?? "").version;
  const slots = SLOTS.map((slot): SlotView => {
    const r = parseKeyValues(input.records[slot] ?? "");
    const version = r.version || (slot === running ? runningVersion : undefined);
    return {
      slot,
      ...(version ? { version } : {}),
      state: r.state || (slot === running ? "good" : "empty"),
      active: slot === running,
      default: slot === defaultSlot,
      next: slot === next,
      ...(r.note ? { note: r.note } : {}),
      ...(r.installed ? { installed: r.installed } : {}),
      ...(r.confirmed ? { confirmed: r.confirmed } : {}),
    };
  });
  const events = (input.events ?? "").split("\n").filter((l) => l.trim() !== "").slice(-5);
  return {
    ...(running ? { running } : {}),
    ...(runningVersion ? { runningVersion } : {}),
    defaultSlot,
    slots,
    events,
    ...(input.data ? { data: input.data } : {}),
  };
}

/** The view as text: one line per slot, then the recent events. */
export function formatSystemView(v: SystemView): string {
  const rows = [["slot", "version", "state", "role", "note"]];
  for (const s of v.slots) {
    const role = [
      s.active ? "active" : "",
      s.default ? "default" : "",
      s.next ? "next boot" : "",
    ].filter((x) => x).join(", ");
    rows.push([s.slot, s.version ?? "-", s.state, role || "-", s.note ?? ""]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  if (v.running === undefined) {
    lines.push("(the running slot is unknown: no fullnat.slot= on the kernel command line)");
  }
  if (v.data) {
    lines.push(`data partition ${v.data.device}: ${Math.round(v.data.bytes / 2 ** 20)} MiB`);
  }
  if (v.events.length > 0) lines.push("", "recent:", ...v.events.map((e) => `  ${e}`));
  return lines.join("\n");
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Reads the files at `paths` into a {@linkcode SystemView}. */
export async function readSystemView(paths: SlotPaths = APPLIANCE_PATHS): Promise<SystemView> {
  const records: Partial<Record<Slot, string>> = {};
  for (const slot of SLOTS) records[slot] = await readOptional(`${paths.systemDir}/slot-${slot}`);
  return systemView({
    grubenv: await readOptional(paths.grubenv),
    cmdline: await readOptional(paths.cmdline),
    records,
    imageStamp: await readOptional(paths.imageStamp),
    events: await readOptional(`${paths.systemDir}/events`),
    data: await dataPartition(paths),
  });
}

/** The data partition's device and size, from udev's link and sysfs; undefined off the box. */
async function dataPartition(
  paths: SlotPaths,
): Promise<{ device: string; bytes: number } | undefined> {
  try {
    const device = await Deno.realPath(paths.dataLink);
    const name = device.slice(device.lastIndexOf("/") + 1);
    const sectors = Number((await Deno.readTextFile(`${paths.sysBlock}/${name}/size`)).trim());
    return Number.isFinite(sectors) ? { device, bytes: sectors * 512 } : undefined;
  } catch {
    return undefined;
  }
}
