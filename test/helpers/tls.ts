import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Files of a throwaway PKI: two CAs, a server certificate and a client certificate signed by the first. */
export interface TestPki {
  dir: string;
  ca: string;
  /** A CA that signed nothing here: trusting it must fail. */
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The name in the server certificate (not the address the tests dial, 127.0.0.1). */
  serverName: string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** Makes the PKI with the openssl CLI (node's crypto cannot issue X.509 certificates). */
export function makeTestPki(serverName = 'temporal.test'): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
  /** `openssl req` arguments for a new P-256 key, unencrypted, in `<name>.key`, with the subject CN=<name>. */
  const newKey = (name: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`];
  const ca = (name: string) => openssl(dir, ['req', '-x509', ...newKey(name), '-out', `${name}.pem`, '-days', '2']);
  ca('ca');
  ca('other-ca');
  const leaf = (name: string, ext: string) => {
    openssl(dir, ['req', ...newKey(name), '-out', `${name}.csr`]);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  leaf('server', `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`);
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    ca: file('ca.pem'),
    otherCa: file('other-ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
    serverName,
  };
}

export interface TlsFrontend {
  address: string;
  /** How many calls came with `authorization: Bearer <the expected key>` (counted, never stored). */
  authorizedCalls: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'host', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/**
 * A TLS frontend for a plain dev server, because the Temporal CLI's `server start-dev` has no TLS
 * option: an HTTP/2 server with TLS (and, with `requireClientCert`, mTLS against the test CA)
 * that forwards every gRPC call to the plain gRPC port, headers, body and trailers. With `apiKey`
 * it answers UNAUTHENTICATED, as Temporal Cloud does, unless the call carries that key.
 */
export async function startTlsFrontend(options: { backend: string; pki: TestPki; requireClientCert: boolean; apiKey?: string }): Promise<TlsFrontend> {
  const { pki } = options;
  const upstream = http2.connect(`http://${options.backend}`);
  upstream.on('error', () => undefined); // a call in flight fails on its own stream
  const frontend: TlsFrontend = { address: '', authorizedCalls: 0, close: async () => undefined };
  const server = http2.createSecureServer({
    key: readFileSync(pki.serverKey),
    cert: readFileSync(pki.serverCert),
    ca: readFileSync(pki.ca),
    requestCert: options.requireClientCert,
    rejectUnauthorized: options.requireClientCert,
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (options.apiKey !== undefined) {
      if (headers.authorization !== `Bearer ${options.apiKey}`) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'Request unauthorized.' },
          { endStream: true },
        );
        return;
      }
      frontend.authorizedCalls += 1;
    }
    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (HOP_BY_HOP.has(name) || name === ':authority' || name === ':scheme') continue;
      forwarded[name] = value;
    }
    const call = upstream.request(forwarded);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('close', () => call.close());
    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('response', (responseHeaders) => {
      const out: http2.OutgoingHttpHeaders = { ...responseHeaders };
      if (responseHeaders['grpc-status'] !== undefined) {
        // A trailers-only answer (an error): headers and the end in one frame.
        stream.respond(out, { endStream: true });
        return;
      }
      stream.respond(out, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    call.on('trailers', (t) => {
      trailers = { ...t };
    });
    stream.pipe(call);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  frontend.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  frontend.close = async () => {
    for (const session of sessions) session.destroy();
    upstream.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return frontend;
}
