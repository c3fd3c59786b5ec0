/**
 * The generated sshd drop-in (`/etc/ssh/sshd_config.d/fullnat-listen.conf`): where sshd
 * listens (the management addresses only) and how long an idle session lives.
 *
 * sshd binds its listen addresses once, at start or reload, and gives up on one that is not
 * (yet) on an interface. The appliance sets `net.ipv4.ip_nonlocal_bind` and
 * `net.ipv6.ip_nonlocal_bind` (image/rootfs/etc/sysctl.d, and `apply.ts` in the target
 * namespace) instead of ordering sshd after network-online.target: the bind succeeds at once
 * and the address answers the moment it appears, boot does not wait for
 * systemd-networkd-wait-online (which holds for up to two minutes on a link without carrier),
 * and an address added later needs no sshd restart. The cost, any local process may bind an
 * address the box does not own, is nothing on an appliance whose only local user is the
 * admin shell.
 *
 * Idle sessions: `ChannelTimeout` (since OpenSSH 9.2, Debian 12's) closes a session in which
 * nothing was typed or printed for N seconds, whatever runs in it. 9.2 names session channels
 * `session:shell`, `session:command`, ... (so `session:*`), later releases `session`; both
 * patterns are written, a pattern matching no channel type being harmless; the admin shell has
 * the same timeout of its own (src/shell/interactive.ts), which also covers the serial
 * console. `ClientAliveInterval`/`ClientAliveCountMax` are the other half: they end a
 * session whose client stopped answering (a laptop gone to sleep, a cut link), which no
 * inactivity timer sees because the TCP connection is still open.
 *
 * @module
 */

import type { ListenAddress, ManagementPlan } from "./plan.ts";

/** Where the drop-in goes. Lexically after nothing that sets the same keys (sshd takes the first). */
export const SSHD_DROP_IN = "/etc/ssh/sshd_config.d/fullnat-listen.conf";

/** The `ListenAddress` value of one address: IPv6 in brackets, a link-local one with its zone. */
export function listenValue(a: ListenAddress, iface: string, port: number): string {
  if (a.family === 4) return `${a.address}:${port}`;
  return `[${a.address}${a.linkLocal ? `%${iface}` : ""}]:${port}`;
}

/** Client-alive probes: every 60 s (the timeout, when shorter), three unanswered end it. */
export function clientAlive(idleTimeoutS: number): { interval: number; countMax: number } {
  return { interval: idleTimeoutS === 0 ? 60 : Math.min(60, idleTimeoutS), countMax: 3 };
}

/** The drop-in's text for `plan`. */
export function sshdDropIn(plan: ManagementPlan): string {
  const alive = clientAlive(plan.idleTimeoutS);
  const lines = [
    "# Written by fullnat (src/mgmt/sshd_config.ts) from the management interface's settings;",
    "# rewritten, and sshd reloaded, whenever they change. Do not edit.",
    `# Management interface: ${plan.management}.`,
  ];
  if (plan.listen.length === 0) {
    // No address at all: sshd's default (every address) keeps the box reachable; the host
    // firewall still admits SSH only on the management interface.
    lines.push(
      "# No management address is known: sshd listens on every address.",
      `Port ${plan.sshPort}`,
    );
  }
  for (const a of plan.listen) {
    lines.push(`ListenAddress ${listenValue(a, plan.management, plan.sshPort)}`);
  }
  lines.push(
    plan.idleTimeoutS === 0
      ? "# Idle timeout off: a session lives as long as its client answers."
      : `# A session idle for ${plan.idleTimeoutS} s is closed.\nChannelTimeout session:*=${plan.idleTimeoutS} session=${plan.idleTimeoutS}`,
    "# A client that stops answering is dropped after three unanswered probes.",
    `ClientAliveInterval ${alive.interval}`,
    `ClientAliveCountMax ${alive.countMax}`,
    "",
  );
  return lines.join("\n");
}
