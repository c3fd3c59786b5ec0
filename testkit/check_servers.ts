/**
 * Loopback servers for the health-check tests: an HTTP(S) server whose answer a test switches
 * between good and bad and which records the peer address and request of every exchange, a
 * listener that accepts and never answers, a port nothing listens on, and a self-signed
 * certificate made with openssl.
 *
 * @module
 */

/** What {@linkcode startCheckServer} answers with; changed by the test at any time. */
export interface Answer {
  status: number;
  body: string;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  /** Wait this long before answering. */
  delayMs?: number;
}

/** One request the server saw. */
export interface Seen {
  peer: string;
  path: string;
  host: string | null;
  connection: string | null;
  userAgent: string | null;
}

/** A running check server. */
export interface CheckServer {
  readonly port: number;
  /** The current answer (assign to switch). */
  answer: Answer;
  /** Every request so far, oldest first. */
  readonly seen: Seen[];
  stop(): Promise<void>;
}

/** Starts an HTTP (or, with `tls`, HTTPS) server on `hostname` (default 127.0.0.1). */
export function startCheckServer(
  answer: Answer,
  options: { hostname?: string; tls?: { cert: string; key: string } } = {},
): CheckServer {
  const seen: Seen[] = [];
  const state = { answer };
  const server = Deno.serve(
    {
      hostname: options.hostname ?? "127.0.0.1",
      port: 0,
      onListen() {},
      ...(options.tls ?? {}),
    },
    async (req, info) => {
      const url = new URL(req.url);
      seen.push({
        peer: (info.remoteAddr as Deno.NetAddr).hostname,
        path: url.pathname + url.search,
        host: req.headers.get("host"),
        connection: req.headers.get("connection"),
        userAgent: req.headers.get("user-agent"),
      });
      const a = state.answer;
      if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
      const bytes = new TextEncoder().encode(a.body);
      const body = a.chunked
        ? new ReadableStream<Uint8Array>({
          start(c) {
            // Two pieces, so the response really is chunked in more than one chunk.
            c.enqueue(bytes.subarray(0, bytes.length >> 1));
            c.enqueue(bytes.subarray(bytes.length >> 1));
            c.close();
          },
        })
        : bytes;
      const bodyless = a.status === 204 || a.status === 304;
      return new Response(bodyless ? null : body, { status: a.status });
    },
  );
  return {
    port: server.addr.port,
    get answer() {
      return state.answer;
    },
    set answer(a: Answer) {
      state.answer = a;
    },
    seen,
    stop: () => server.shutdown(),
  };
}

/** A listener that accepts connections and never sends a byte. */
export function startSilentListener(hostname = "127.0.0.1"): {
  port: number;
  accepted: () => number;
  stop(): void;
} {
  const listener = Deno.listen({ hostname, port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const c of listener) conns.push(c);
    } catch {
      // Closed by stop().
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted: () => conns.length,
    stop() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // Closed by the peer already.
        }
      }
    },
  };
}

/** A loopback port nothing listens on (taken from a listener that is closed again). */
export function refusedPort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** True when openssl is on PATH. */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A self-signed certificate for `cn` made by openssl in a temporary directory. */
export async function selfSignedCert(cn = "check.test"): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-cert-" });
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${cn}`,
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`openssl failed: ${new TextDecoder().decode(out.stderr)}`);
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
