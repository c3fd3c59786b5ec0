/**
 * The ssh command line of a test that logs into a box it just made: key only, no prompt, no
 * host-key check or record (every box and VM has new host keys), errors only. Shared by the
 * appliance tests under qemu and the management-plane test in namespaces.
 *
 * @module
 */

/** `ssh -i KEY ... EXTRA... TARGET` (the remote command goes after it). */
export function sshClientArgs(
  key: string,
  target: string,
  extra: readonly string[] = [],
): string[] {
  return [
    "ssh",
    "-i",
    key,
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    ...extra,
    target,
  ];
}
