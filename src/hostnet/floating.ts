/**
 * The addresses keepalived floats between the boxes of an HA pair: every address in the
 * `virtual_ipaddress` and `virtual_ipaddress_excluded` blocks of its configuration (the file
 * provisioning's `ha` section writes, or one written by hand). They are keepalived's: the
 * daemon never binds them, and a service may use them without an interface subnet of its own.
 *
 * @module
 */
import { Findings } from "../keepalived/findings.ts";
import { loadConfig, type Statement } from "../keepalived/parse.ts";
import { fsSource } from "../keepalived/source.ts";
import { parseAddress } from "../vocab/address.ts";

/** keepalived's configuration file on the appliance. */
export const DEFAULT_KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";

const BLOCKS = new Set(["virtual_ipaddress", "virtual_ipaddress_excluded"]);

/** The floating addresses of a parsed keepalived.conf (canonical text). */
export function floatingAddresses(statements: readonly Statement[]): Set<string> {
  const out = new Set<string>();
  const walk = (list: readonly Statement[], inside: boolean) => {
    for (const st of list) {
      if (inside) {
        const a = parseAddress(st.keyword.split("/")[0]);
        if (a !== undefined) out.add(a.address);
      }
      if (st.block) walk(st.block, BLOCKS.has(st.keyword));
    }
  };
  walk(statements, false);
  return out;
}

/** The floating addresses of the file at `path`; none when there is no such file. */
export async function readFloating(path: string): Promise<Set<string>> {
  try {
    await Deno.stat(path);
  } catch {
    return new Set();
  }
  const tree = await loadConfig(path, fsSource("/"), new Findings());
  return floatingAddresses(tree);
}
