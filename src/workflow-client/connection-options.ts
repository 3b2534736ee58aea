import { isIP } from 'node:net';
import tls from 'node:tls';
import type { TemporalConfig } from '../config';

/**
 * What both `Connection.connect`/`Connection.lazy` (@temporalio/client) and
 * `NativeConnection.connect` (@temporalio/worker) take to reach the configured Temporal: plain
 * gRPC, TLS with the system's or a given CA, mTLS, and/or an API key. The one place that turns
 * the TEMPORAL_* variables into connection options, so the ingress, the worker and the ops tool
 * cannot differ.
 */
export interface TemporalConnectionOptions {
  address: string;
  /** `false` keeps an API key from switching TLS on (the SDK does that by default). */
  tls:
    | false
    | {
        serverNameOverride?: string;
        serverRootCACertificate?: Buffer;
        clientCertPair?: { crt: Buffer; key: Buffer };
      };
  apiKey?: string;
  /** Bounds the first connection (client SDK only; the worker's Core fails fast on its own). */
  connectTimeout: number;
}

/** How long a connection attempt may take before it fails with a message naming the variables. */
export const TEMPORAL_CONNECT_TIMEOUT_MS = 10_000;

export function temporalConnectionOptions(temporal: TemporalConfig, connectTimeout = TEMPORAL_CONNECT_TIMEOUT_MS): TemporalConnectionOptions {
  const { tls } = temporal;
  return {
    address: temporal.address,
    tls: tls
      ? {
          ...(tls.serverName && { serverNameOverride: tls.serverName }),
          ...(tls.ca && { serverRootCACertificate: tls.ca }),
          ...(tls.clientCert && { clientCertPair: { crt: tls.clientCert.cert, key: tls.clientCert.key } }),
        }
      : false,
    ...(temporal.apiKey && { apiKey: temporal.apiKey }),
    connectTimeout,
  };
}

/** A failed connection to Temporal, said in terms of the variables an operator sets. */
export class TemporalConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemporalConnectionError';
  }
}

/**
 * For `.catch()` on a connect: rethrows the SDK's error as one that says which variable to fix.
 * The gRPC client only says "Failed to connect before the deadline" for any TLS problem, so a
 * TLS connection is tried once more with Node's TLS and the same settings to learn why. The SDK's
 * messages carry no credentials; nor does this one.
 */
export function temporalConnectFailure(temporal: TemporalConfig): (err: unknown) => Promise<never> {
  return async (err) => {
    // The SDK wraps the gRPC error ("Failed to connect to Temporal server"): its status code and
    // message are in the cause.
    const messages: string[] = [];
    const codes: number[] = [];
    for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
      const { message, code } = e as { message?: unknown; code?: unknown };
      if (typeof message === 'string' && message && !messages.includes(message)) messages.push(message);
      if (typeof code === 'number') codes.push(code);
    }
    const cause = messages.join(': ') || String(err);
    let hint: string;
    // gRPC UNAUTHENTICATED (16) and PERMISSION_DENIED (7).
    if (codes.includes(16) || codes.includes(7) || /unauthenticated|unauthorized|permission ?denied/i.test(cause)) {
      hint = `the server refused the credentials: check TEMPORAL_API_KEY${temporal.tls?.clientCert ? ', TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY' : ''} and TEMPORAL_NAMESPACE`;
    } else if (!temporal.tls) {
      hint = 'no answer over plain gRPC: check TEMPORAL_ADDRESS, and set TEMPORAL_TLS_CA (or TEMPORAL_TLS=true) if the server speaks TLS';
    } else {
      hint =
        (await tlsDiagnosis(temporal)) ??
        'no TLS connection: check TEMPORAL_ADDRESS, that TEMPORAL_TLS_CA is the CA that signed the server certificate ' +
          `(${temporal.tls.ca ? 'it is set' : 'unset: the system CAs are used'}), that TEMPORAL_TLS_SERVER_NAME is a name in that certificate, ` +
          'and TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY if the server asks for a client certificate';
    }
    throw new TemporalConnectionError(`Cannot connect to Temporal at ${temporal.address} (TEMPORAL_ADDRESS): ${hint}. (${cause})`, { cause: err });
  };
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** One TLS handshake with the configured settings: what went wrong, in terms of the variables, or undefined. */
function tlsDiagnosis(temporal: TemporalConfig, timeoutMs = 5_000): Promise<string | undefined> {
  const settings = temporal.tls!;
  const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(temporal.address);
  const host = match?.[1] ?? temporal.address;
  const port = Number(match?.[2] ?? 7233);
  const servername = settings.serverName ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: string | undefined) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    const socket = tls.connect({
      host,
      port,
      servername,
      ca: settings.ca,
      cert: settings.clientCert?.cert,
      key: settings.clientCert?.key,
      ALPNProtocols: ['h2'],
    });
    socket.setTimeout(timeoutMs, () => done(`no TLS handshake within ${timeoutMs / 1000} s: check TEMPORAL_ADDRESS`));
    // With TLS 1.3 a server that refuses the client certificate says so just after the handshake.
    socket.once('secureConnect', () => setTimeout(() => done(undefined), 1_000));
    socket.once('error', (err: NodeJS.ErrnoException & { reason?: string }) => {
      const code = err.code ?? '';
      if (UNTRUSTED.has(code)) {
        done(
          settings.ca
            ? "the server's certificate is not signed by the CA in TEMPORAL_TLS_CA"
            : "the server's certificate is not signed by a CA this system trusts: set TEMPORAL_TLS_CA to the CA that signed it",
        );
      } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
        done(`the server's certificate is not for ${servername ?? host} (${err.reason ?? 'name mismatch'}): set TEMPORAL_TLS_SERVER_NAME to a name in it`);
      } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
        done(`the server's certificate is not valid now (${code}): the server's side must renew it`);
      } else if (/certificate required|bad certificate|unknown ca|certificate unknown|handshake failure/i.test(`${code} ${err.message}`)) {
        done(
          settings.clientCert
            ? 'the server refused the client certificate: check TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (signed by the CA the server trusts?)'
            : 'the server asks for a client certificate: set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY',
        );
      } else if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'EAI_AGAIN'].includes(code)) {
        done(`nothing answers TLS there (${code}): check TEMPORAL_ADDRESS`);
      } else if (/wrong version number|packet length too long|EPROTO/i.test(`${code} ${err.message}`)) {
        done('the server does not speak TLS there: check TEMPORAL_ADDRESS, or unset the TEMPORAL_TLS_* variables for a plain server');
      } else {
        done(undefined);
      }
    });
  });
}
