/**
 * Applying the `ha` section: writes keepalived's configuration (`keepalived_conf.ts`) under the
 * box's root, readable by root only (it may hold the VRRP password), and on the appliance
 * enables and restarts keepalived so it runs the new instance. Debian's keepalived unit does
 * not start while the file is missing or empty, so a box without an `ha` section never runs it.
 *
 * @module
 */
import { dirname } from "node:path";
import { execOk } from "./exec.ts";
import { underRoot, writeFileAtomic } from "./files.ts";
import { keepalivedConf } from "./keepalived_conf.ts";
import type { HaConfig } from "./types.ts";

/** Where keepalived reads its configuration. */
export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";

/** Where first boot writes, and whether it may (re)start the service. */
export interface HaTarget {
  root: string;
  /** Enable and restart keepalived.service (only when `root` is the real root). */
  restartService: boolean;
  /** keepalived's router_id: the provisioned host name, when there is one. */
  routerId?: string;
}

/** Writes the file and restarts keepalived; returns what it did in a line. */
export async function applyHa(target: HaTarget, ha: HaConfig): Promise<string> {
  const path = underRoot(target.root, KEEPALIVED_CONF);
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileAtomic(path, keepalivedConf(ha, { routerId: target.routerId }), { mode: 0o600 });
  if (target.restartService) {
    await execOk("systemctl", ["enable", "keepalived.service"]);
    await execOk("systemctl", ["restart", "keepalived.service"]);
  }
  return `VRRP instance ${ha.virtualRouterId} on ${ha.interface}, priority ${ha.priority}` +
    `${ha.preempt ? "" : ", nopreempt"}: ${ha.vips.length} VIP(s) and ` +
    `${ha.localAddresses.length} local address(es) float; ${KEEPALIVED_CONF} written` +
    (target.restartService ? ", keepalived restarted" : "");
}
