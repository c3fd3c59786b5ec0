/**
 * Checks SSH public keys before they go into `authorized_keys`, so a truncated or mangled
 * paste is refused at validation time rather than locking the admin out at first boot.
 *
 * @module
 */

/**
 * Key types OpenSSH accepts in authorized_keys (without certificate types), with the number of
 * length-prefixed fields their key blob holds, the type name included (RFC 4253 6.6, RFC 5656,
 * RFC 8709, OpenSSH PROTOCOL.u2f).
 */
const BLOB_FIELDS: Readonly<Record<string, number>> = {
  "ssh-ed25519": 2,
  "ssh-rsa": 3,
  "ecdsa-sha2-nistp256": 3,
  "ecdsa-sha2-nistp384": 3,
  "ecdsa-sha2-nistp521": 3,
  "sk-ssh-ed25519@openssh.com": 3,
  "sk-ecdsa-sha2-nistp256@openssh.com": 4,
};

/** Key types OpenSSH accepts in authorized_keys (without certificate types). */
export const SSH_KEY_TYPES: readonly string[] = Object.keys(BLOB_FIELDS);

function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The blob's length-prefixed fields, or undefined when they do not fill it exactly. */
function blobFields(bytes: Uint8Array): Uint8Array[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Uint8Array[] = [];
  for (let off = 0; off < bytes.length;) {
    if (off + 4 > bytes.length) return undefined;
    const len = view.getUint32(off);
    if (off + 4 + len > bytes.length) return undefined;
    fields.push(bytes.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return fields;
}

/**
 * Parses one public key line `TYPE BASE64 [COMMENT]`. Returns the normalised line (single
 * spaces) or a message saying what is wrong. The key blob must decode, name the same type as
 * the line does and hold exactly the fields of that type, which catches keys cut short or
 * joined by a line break.
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
  if (/[\r\n]/.test(line.trim())) {
    return { ok: false, message: "an SSH key must be one line; put each key in its own list item" };
  }
  const [type, blob, ...comment] = line.trim().split(/\s+/);
  if (type === undefined || type === "") return { ok: false, message: "empty SSH key" };
  if (!(type in BLOB_FIELDS)) {
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
  if (bytes === undefined) {
    return { ok: false, message: "SSH key data is not valid base64 (truncated paste?)" };
  }
  const fields = blobFields(bytes);
  const inner = fields?.[0] === undefined ? "" : new TextDecoder().decode(fields[0]);
  if (inner !== type) {
    return {
      ok: false,
      message: `SSH key data does not belong to a ${type} key (it says ${
        JSON.stringify(inner.slice(0, 40))
      }); copy the whole line of the .pub file`,
    };
  }
  const complete = fields!.length === BLOB_FIELDS[type] &&
    (type !== "ssh-ed25519" || fields![1].length === 32);
  if (!complete) {
    return {
      ok: false,
      message: `SSH key data of this ${type} key is incomplete (truncated paste?)`,
    };
  }
  return { ok: true, key: [type, blob, ...comment].join(" ") };
}
