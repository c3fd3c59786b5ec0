/**
 * Checks SSH public keys before they go into `authorized_keys`, so a truncated or mangled
 * paste is refused at validation time rather than locking the admin out at first boot.
 *
 * @module
 */

/** Key types OpenSSH accepts in authorized_keys (without certificate types). */
export const SSH_KEY_TYPES: readonly string[] = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Parses one public key line `TYPE BASE64 [COMMENT]`. Returns the normalised line (single
 * spaces) or a message saying what is wrong. The key blob must decode and name the same type
 * as the line does, which catches keys cut short or joined by a line break.
 *
 * @example
 * ```ts
 * import { parseSshPublicKey } from "./ssh_key.ts";
 * parseSshPublicKey("ssh-ed25519 AAAA"); // { ok: false, message: "..." }
 * ```
 */
export function parseSshPublicKey(
  line: string,
): { ok: true; key: string } | { ok: false; message: string } {
  if (/[\r\n]/.test(line)) {
    return { ok: false, message: "an SSH key must be one line; put each key in its own list item" };
  }
  const fields = line.trim().split(/\s+/);
  const [type, blob, ...comment] = fields;
  if (type === undefined || type === "") return { ok: false, message: "empty SSH key" };
  if (!SSH_KEY_TYPES.includes(type)) {
    return {
      ok: false,
      message: `SSH key must start with its type (${SSH_KEY_TYPES.join(", ")}); got ${
        JSON.stringify(type.slice(0, 40))
      } (authorized_keys options are not supported here)`,
    };
  }
  if (blob === undefined) {
    return { ok: false, message: `SSH key of type ${type} has no key data after the type` };
  }
  const bytes = decodeBase64(blob);
  if (bytes === undefined || bytes.length < 4) {
    return { ok: false, message: `SSH key data is not valid base64 (truncated paste?)` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nameLength = view.getUint32(0);
  const inner = nameLength <= bytes.length - 4
    ? new TextDecoder().decode(bytes.subarray(4, 4 + nameLength))
    : "";
  if (inner !== type) {
    return {
      ok: false,
      message: `SSH key data does not belong to a ${type} key (it says ${
        JSON.stringify(inner.slice(0, 40))
      }); copy the whole line of the .pub file`,
    };
  }
  return { ok: true, key: [type, blob, ...comment].join(" ") };
}
