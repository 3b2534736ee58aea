import type { TemporalConfig } from './config';

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
 * For `.catch()` on a connect: rethrows the SDK's error as one that says which variables to
 * check. The SDK's messages carry no credentials; nor does this one.
 */
export function temporalConnectFailure(temporal: TemporalConfig): (err: unknown) => never {
  return (err) => {
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
    const where = `Temporal at ${temporal.address} (TEMPORAL_ADDRESS)`;
    let hint: string;
    // gRPC UNAUTHENTICATED (16) and PERMISSION_DENIED (7).
    if (codes.includes(16) || codes.includes(7) || /unauthenticated|unauthorized|permission ?denied/i.test(cause)) {
      hint = `the server refused the credentials: check TEMPORAL_API_KEY${temporal.tls?.clientCert ? ', TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY' : ''} and TEMPORAL_NAMESPACE`;
    } else if (!temporal.tls) {
      hint = 'no answer over plain gRPC: check TEMPORAL_ADDRESS, and set TEMPORAL_TLS_CA (or TEMPORAL_TLS=true) if the server speaks TLS';
    } else {
      hint =
        'no TLS connection: check TEMPORAL_ADDRESS, that TEMPORAL_TLS_CA is the CA that signed the server certificate ' +
        `(${temporal.tls.ca ? 'it is set' : 'unset: the system CAs are used'}), that TEMPORAL_TLS_SERVER_NAME is a name in that certificate, ` +
        'and TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY if the server asks for a client certificate';
    }
    throw new TemporalConnectionError(`Cannot connect to ${where}: ${hint}. (${cause})`, { cause: err });
  };
}
