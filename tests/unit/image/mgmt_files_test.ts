/**
 * The appliance's management-access files (src/mgmt, README "Management access"): the boot
 * units are enabled by configure.sh, the one on the way to SSH replays a record in a shell and
 * the Deno apply runs only when asked, with nothing waiting for it (boot-to-SSH does not pay
 * for a Deno start), sshd starts right after the local filesystems, the sysctl file lets sshd bind addresses not yet up, and the fingerprint
 * script prints every host key's SHA-256 fingerprint, exactly as ssh-keygen computes it, on
 * the console and in /etc/issue.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MGMT_APPLY_FLAG } from "../../../src/mgmt/boot_record.ts";

const IMAGE = new URL("../../../image/", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, IMAGE));

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

Deno.test("image: the management units are enabled and order nothing before sshd", async () => {
  const configure = await read("configure.sh");
  assert.match(
    configure,
    /systemctl enable fullnat-mgmt\.service fullnat-mgmt-apply\.service fullnat-ssh-fingerprints\.service/,
  );
  // At boot: the record replayed in a shell, early (before the network), no Deno.
  const mgmt = await read("rootfs/etc/systemd/system/fullnat-mgmt.service");
  assert.match(mgmt, /^ExecStart=\/usr\/local\/sbin\/fullnat-mgmt-boot$/m);
  assert.match(mgmt, /^DefaultDependencies=no$/m);
  // Before the network (no management address before the firewall), not before sshd.
  assert.match(mgmt, /^Before=network-pre\.target shutdown\.target$/m);
  assert.doesNotMatch(mgmt, /^ExecStart=.*fullnat mgmt apply/m);
  // The Deno apply only when the replay asked for it, and nothing waits for it.
  const apply = await read("rootfs/etc/systemd/system/fullnat-mgmt-apply.service");
  assert.match(apply, /^ExecStart=\/usr\/local\/bin\/fullnat mgmt apply --wait-link 10$/m);
  assert.match(apply, /^ConditionPathExists=\/run\/fullnat-mgmt-apply$/m);
  // After provisioning, which applies the management side itself and then removes the flag.
  assert.match(apply, /^After=.*fullnat-provision\.service/m);
  assert.equal(MGMT_APPLY_FLAG, "/run/fullnat-mgmt-apply");
  assert.match(
    await read("rootfs/usr/local/sbin/fullnat-mgmt-boot"),
    /flag="\$\{2:-\/run\/fullnat-mgmt-apply\}"/,
  );
  for (const unit of [mgmt, apply]) {
    assert.doesNotMatch(unit, /^Before=.*ssh/m, "sshd must not wait for the management units");
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
  }
  // sshd and its host keys right after the local filesystems, not after basic.target.
  const sshd = await read("rootfs/etc/systemd/system/ssh.service.d/fullnat.conf");
  assert.match(sshd, /^DefaultDependencies=no$/m);
  // ... once the management port exists: its link-local listen address names it.
  assert.match(
    sshd,
    /^ExecStartPre=\n^ExecStartPre=\/usr\/local\/sbin\/fullnat-mgmt-boot --wait-port$/m,
  );
  assert.match(sshd, /^RequiresMountsFor=\/data\/ssh \/home$/m);
  assert.doesNotMatch(sshd, /^After=.*(local-fs|basic\.target)/m);
  // ... nor after systemd-networkd: the packaged unit is copied without After=network.target.
  assert.match(configure, /\/s\/network\\\.target \?\/\/.*\/lib\/systemd\/system\/ssh\.service/);
  assert.match(configure, /^systemctl reenable ssh\.service$/m);
  const keys = await read("rootfs/etc/systemd/system/fullnat-ssh-hostkeys.service");
  assert.match(keys, /^DefaultDependencies=no$/m);
  assert.match(keys, /^Before=ssh\.service shutdown\.target$/m);
  // An unchanged seed costs no Deno start.
  const provision = await read("provision/fullnat-provision.service");
  assert.match(provision, /^ExecCondition=\/usr\/local\/sbin\/fullnat-provision-check$/m);
  const fp = await read("rootfs/etc/systemd/system/fullnat-ssh-fingerprints.service");
  assert.match(fp, /^After=fullnat-ssh-hostkeys\.service$/m);
  assert.match(
    fp,
    /^ExecStart=\/usr\/local\/bin\/fullnat-ssh-fingerprints \/etc\/ssh \/etc\/issue \/dev\/console$/m,
  );
  const sysctl = await read("rootfs/etc/sysctl.d/60-fullnat.conf");
  assert.match(sysctl, /^net\.ipv4\.ip_nonlocal_bind = 1$/m);
  assert.match(sysctl, /^net\.ipv6\.ip_nonlocal_bind = 1$/m);
  // The static drop-in must not set what the generated one sets: sshd keeps the first value.
  const fixed = await read("rootfs/etc/ssh/sshd_config.d/fullnat.conf");
  assert.doesNotMatch(fixed, /^(ListenAddress|ClientAlive|ChannelTimeout)/m);
});

Deno.test("image: host key fingerprints go to the console and /etc/issue", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-fp-" });
  try {
    const keys = join(dir, "ssh");
    await Deno.mkdir(keys);
    for (const t of ["ed25519", "ecdsa"]) {
      await run("ssh-keygen", ["-q", "-t", t, "-N", "", "-f", join(keys, `ssh_host_${t}_key`)]);
    }
    const script = new URL("rootfs/usr/local/bin/fullnat-ssh-fingerprints", IMAGE).pathname;
    const issue = join(dir, "issue");
    const consoleFile = join(dir, "console");
    await Deno.writeTextFile(consoleFile, "");
    await run("sh", [script, keys, issue, consoleFile]);
    const expected = await Promise.all(["ecdsa", "ed25519"].map(async (t) => {
      const f =
        (await run("ssh-keygen", ["-l", "-E", "sha256", "-f", join(keys, `ssh_host_${t}_key.pub`)]))
          .split(/\s+/);
      return `  ${t.toUpperCase()} ${f[1]}`;
    }));
    const shown = await Deno.readTextFile(consoleFile);
    assert.equal(
      shown,
      `fullnat: SSH host key fingerprints of this box:\n${expected.join("\n")}\n`,
    );
    const banner = await Deno.readTextFile(issue);
    assert.ok(banner.includes(shown), banner);
    assert.ok(banner.startsWith("Debian GNU/Linux with fullnat \\n \\l\n"), banner);
    // Run again (every boot): the banner is rewritten, not appended to.
    await run("sh", [script, keys, issue, consoleFile]);
    assert.equal(await Deno.readTextFile(issue), banner);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
