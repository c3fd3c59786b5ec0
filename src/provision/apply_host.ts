/**
 * Applying the host-level sections: the host name (`/etc/hostname`, `/etc/hosts`, the running
 * kernel's name) and the admin's SSH keys (`~admin/.ssh/authorized_keys`). Paths are taken
 * under a root directory so the same code runs on the appliance and against a test tree.
 *
 * @module
 */

import { join } from "node:path";
import { readTextIfExists, underRoot, writeFileAtomic } from "./files.ts";
import type { AdminConfig } from "./types.ts";

/** Where first boot writes: the box's root and whether to touch the running kernel too. */
export interface HostTarget {
  /** Root directory of the box's files (`/` on the appliance). */
  root: string;
  /** Also set the running host name (only sensible when `root` is the real root). */
  liveHostname: boolean;
}

/** `/etc/hosts` with the Debian `127.0.1.1 NAME` line set to `name` (added when missing). */
export function hostsWithName(hosts: string, name: string): string {
  const short = name.split(".")[0];
  const entry = short === name ? `127.0.1.1\t${name}` : `127.0.1.1\t${name} ${short}`;
  const lines = hosts === "" ? [] : hosts.replace(/\n$/, "").split("\n");
  const at = lines.findIndex((l) => /^127\.0\.1\.1\s/.test(l));
  if (at >= 0) lines[at] = entry;
  else {
    // Keep it right after the localhost line, where Debian's installer puts it.
    const localhost = lines.findIndex((l) => /^127\.0\.0\.1\s/.test(l));
    lines.splice(localhost >= 0 ? localhost + 1 : lines.length, 0, entry);
  }
  return lines.join("\n") + "\n";
}

/** Sets the host name in `/etc/hostname` and `/etc/hosts`, and in the kernel when asked. */
export async function applyHostname(target: HostTarget, name: string): Promise<void> {
  await writeFileAtomic(underRoot(target.root, "/etc/hostname"), `${name}\n`);
  const hostsPath = underRoot(target.root, "/etc/hosts");
  const hosts = (await readTextIfExists(hostsPath)) ?? "127.0.0.1\tlocalhost\n";
  await writeFileAtomic(hostsPath, hostsWithName(hosts, name));
  // The kernel's name is what the shell prompt, the journal and sshd show from now on.
  if (target.liveHostname) await Deno.writeTextFile("/proc/sys/kernel/hostname", name);
}

/** An account from the box's `/etc/passwd`. */
export interface Account {
  uid: number;
  gid: number;
  home: string;
}

/** Looks `user` up in `<root>/etc/passwd`; undefined when there is no such account. */
export async function lookupAccount(root: string, user: string): Promise<Account | undefined> {
  const passwd = (await readTextIfExists(underRoot(root, "/etc/passwd"))) ?? "";
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f.length >= 7 && f[0] === user) {
      return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
    }
  }
  return undefined;
}

/**
 * Checks what applying the admin section needs from the box (the account exists), so a
 * failure is reported before anything is written.
 */
export async function checkAdminTarget(root: string, admin: AdminConfig): Promise<string[]> {
  const account = await lookupAccount(root, admin.user);
  if (account === undefined) {
    return [`there is no user ${JSON.stringify(admin.user)} on this box (not in /etc/passwd)`];
  }
  if (!account.home.startsWith("/")) {
    return [`user ${admin.user} has no usable home directory (${JSON.stringify(account.home)})`];
  }
  return [];
}

/**
 * Writes the admin's `~/.ssh/authorized_keys` with exactly the provisioned keys (mode 0600,
 * directory 0700, owned by the user, as sshd's StrictModes requires).
 */
export async function applyAdminKeys(root: string, admin: AdminConfig): Promise<string> {
  const account = await lookupAccount(root, admin.user);
  if (account === undefined) throw new Error(`there is no user ${admin.user} on this box`);
  const sshDir = join(underRoot(root, account.home), ".ssh");
  await Deno.mkdir(sshDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(sshDir, 0o700);
  await Deno.chown(sshDir, account.uid, account.gid);
  const file = join(sshDir, "authorized_keys");
  const text = "# Written by fullnat provision firstboot from the seed volume.\n" +
    admin.sshKeys.map((k) => `${k}\n`).join("");
  await writeFileAtomic(file, text, { mode: 0o600, uid: account.uid, gid: account.gid });
  return file;
}
