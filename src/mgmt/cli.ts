/**
 * `fullnat mgmt ...`: the management plane from the command line (as root, on the console or
 * in fullnat-mgmt.service):
 *
 *   fullnat mgmt apply [--root DIR] [--netns NAME] [--state-dir DIR] [--no-reload]
 *   fullnat mgmt show [--netns NAME]      fallback addresses, sshd drop-in, firewall counters
 *   fullnat mgmt firewall-off [--netns NAME]   remove the host firewall (until the next apply)
 *
 * @module
 */

import { type Command, CommanderError } from "commander";
import { underRoot } from "../provision/files.ts";
import { applyManagement, readMac } from "./apply.ts";
import { removeFirewall, showFirewall } from "./firewall.ts";
import { defaultMgmtStateDir, readInput, withMgmtLock } from "./input_store.ts";
import { fallbackAddresses } from "./link_local.ts";
import { SSHD_DROP_IN } from "./sshd_config.ts";
import { DEFAULT_MANAGEMENT_INTERFACE, type ManagementInput } from "./types.ts";

const write = (text: string) => Deno.stdout.write(new TextEncoder().encode(text));

async function fail(message: string): Promise<never> {
  await Deno.stderr.write(new TextEncoder().encode(`fullnat mgmt: ${message}\n`));
  throw new CommanderError(2, "fullnat.mgmt.failed", message);
}

/** The stored input, or the default one (eth0, no configured address) when there is none. */
async function storedInput(dir: string): Promise<ManagementInput> {
  try {
    return await readInput(dir) ??
      { management: DEFAULT_MANAGEMENT_INTERFACE, interfaces: [] };
  } catch (e) {
    // An unreadable record must not cost SSH: fall back to the management port's defaults.
    await Deno.stderr.write(
      new TextEncoder().encode(`fullnat mgmt: ${(e as Error).message}; using the defaults\n`),
    );
    return { management: DEFAULT_MANAGEMENT_INTERFACE, interfaces: [] };
  }
}

interface MgmtApplyOptions {
  root: string;
  netns?: string;
  stateDir?: string;
  reload: boolean;
  waitLink: string;
}

/** Adds `mgmt apply|show|firewall-off` to the `fullnat` command. */
export function registerMgmt(program: Command): void {
  const mgmt = program.command("mgmt")
    .description("management access: sshd's addresses, the host firewall, the fallback address");

  mgmt.command("apply")
    .description("apply the stored management settings (fullnat-mgmt.service runs it at boot)")
    .option("--root <dir>", "the box's root directory (sshd drop-in, state)", "/")
    .option("--netns <name>", "network namespace for ip, sysctl and iptables (tests)")
    .option("--state-dir <dir>", "where the input is stored (default ROOT/var/lib/fullnat/mgmt)")
    .option("--no-reload", "do not reload sshd after changing its drop-in")
    .option("--wait-link <seconds>", "wait this long for the management port to appear", "0")
    .action(async (o: MgmtApplyOptions) => {
      const stateDir = o.stateDir ?? defaultMgmtStateDir(o.root);
      if (!/^[0-9]+$/.test(o.waitLink)) await fail(`--wait-link takes whole seconds`);
      const deadline = Date.now() + Number(o.waitLink) * 1000;
      const probe = { root: o.root, netns: o.netns, reloadSshd: false };
      const r = await withMgmtLock(stateDir, async () => {
        const input = await storedInput(stateDir);
        // Interfaces appear as udev probes them; at boot this may run before the NIC is there.
        while (await readMac(probe, input.management) === undefined && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
        }
        return await applyManagement(
          {
            root: o.root,
            netns: o.netns,
            reloadSshd: o.reload && o.root === "/",
            recordDir: stateDir,
          },
          input,
        );
      });
      await write(r.done.map((d) => `${d}\n`).join(""));
      if (r.problems.length > 0) await fail(r.problems.join("\n  "));
    });

  mgmt.command("show")
    .description("the management port's fallback addresses, sshd's drop-in, firewall counters")
    .option("--root <dir>", "the box's root directory", "/")
    .option("--netns <name>", "network namespace (tests)")
    .option("--state-dir <dir>", "where the input is stored (default ROOT/var/lib/fullnat/mgmt)")
    .action(async (o: { root: string; netns?: string; stateDir?: string }) => {
      const input = await storedInput(o.stateDir ?? defaultMgmtStateDir(o.root));
      const mac = await readMac(
        { root: o.root, netns: o.netns, reloadSshd: false },
        input.management,
      );
      const lines = [`management interface: ${input.management}${mac ? ` (${mac})` : " (absent)"}`];
      if (mac) {
        const f = fallbackAddresses(mac);
        lines.push(`fallback addresses: ${f.ipv4}, ${f.ipv6}`);
      }
      let dropIn = "(none: sshd listens on every address)";
      try {
        dropIn = await Deno.readTextFile(underRoot(o.root, SSHD_DROP_IN));
      } catch {
        // Not written yet.
      }
      lines.push(`${SSHD_DROP_IN}:`, dropIn.trimEnd(), "", "host firewall:");
      lines.push(await showFirewall({ netns: o.netns }));
      await write(lines.join("\n") + "\n");
    });

  mgmt.command("firewall-off")
    .description("remove the host firewall's chains (until the next apply or boot)")
    .option("--netns <name>", "network namespace (tests)")
    .action(async (o: { netns?: string }) => {
      await removeFirewall({ netns: o.netns });
      await write("host firewall removed\n");
    });
}
