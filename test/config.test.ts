import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES, ConfigError, loadConfig, loadStoresConfig } from '../src/config';
import { temporalConnectionOptions } from '../src/workflow-client/connection-options';
import { makeTestPki, type TestPki } from './helpers/tls';

const valid = {
  MONGO_URL: 'mongodb://localhost:27017/jobber',
  JOBBER_CLIENT_ID: 'id',
  JOBBER_CLIENT_SECRET: 'secret',
  SLACK_BOT_TOKEN: 'xoxb-1',
  SLACK_SIGNING_SECRET: 'signing',
  SLACK_ALERT_CHANNEL: 'C123',
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  SESSION_SECRET: 'x'.repeat(32),
};

describe('config', () => {
  it('applies documented defaults', () => {
    const config = loadConfig(valid);
    expect(config.port).toBe(3000);
    expect(config.jobber.apiUrl).toBe('https://api.getjobber.com/api');
    expect(config.temporal).toEqual({ address: 'localhost:7233', namespace: 'default', taskQueue: 'jobber-sync' });
    expect(config.slack.apiUrl).toBe('https://slack.com/api/');
    expect(config.tokenEncryptionKey).toHaveLength(32);
  });

  it('waits for a majority of MongoDB members by default, takes a member count, and names MONGO_WRITE_CONCERN on a bad value', () => {
    expect(loadConfig(valid).mongoWriteConcern).toBe('majority');
    expect(loadConfig({ ...valid, MONGO_WRITE_CONCERN: '1' }).mongoWriteConcern).toBe(1);
    expect(loadConfig({ ...valid, MONGO_WRITE_CONCERN: '3' }).mongoWriteConcern).toBe(3);
    for (const bad of ['0', 'most', '-1', '1.5']) {
      expect(() => loadConfig({ ...valid, MONGO_WRITE_CONCERN: bad })).toThrow(/MONGO_WRITE_CONCERN: must be majority or a number of members/);
    }
  });

  it('traces only when OTEL_EXPORTER_OTLP_ENDPOINT is set, to an http(s) URL, and names it on a bad value', () => {
    expect(loadConfig(valid).tracing).toBeUndefined();
    expect(loadConfig({ ...valid, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toEqual({ endpoint: 'http://collector:4318' });
    for (const bad of ['collector:4318', 'grpc://collector:4317']) {
      expect(() => loadConfig({ ...valid, OTEL_EXPORTER_OTLP_ENDPOINT: bad })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: /);
    }
  });

  it('takes the operator workspace and Add to Slack each as a pair, and needs at least one of them', () => {
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
    };
    const { SLACK_BOT_TOKEN: _t, SLACK_ALERT_CHANNEL: _c, ...noOperator } = valid;
    expect(problems({ ...noOperator, SLACK_BOT_TOKEN: 'xoxb-1' })).toEqual([
      expect.stringMatching(/^SLACK_ALERT_CHANNEL is required when SLACK_BOT_TOKEN is set/),
    ]);
    expect(problems({ ...valid, SLACK_CLIENT_ID: '1.2' })).toEqual([expect.stringMatching(/^SLACK_CLIENT_SECRET is required when SLACK_CLIENT_ID is set/)]);
    expect(problems(noOperator)).toEqual([expect.stringMatching(/alerts need a workspace/)]);
    // Add to Slack alone: no operator workspace.
    const appOnly = loadConfig({ ...noOperator, SLACK_CLIENT_ID: '1.2', SLACK_CLIENT_SECRET: 's3cret' });
    expect(appOnly.slack).toMatchObject({ app: { clientId: '1.2', clientSecret: 's3cret' } });
    expect(appOnly.slack.botToken).toBeUndefined();
    expect(loadConfig(valid).slack.app).toBeUndefined();
  });

  it('names every missing variable', () => {
    const { JOBBER_CLIENT_SECRET: _a, MONGO_URL: _b, ...rest } = valid;
    expect(() => loadConfig(rest)).toThrow(ConfigError);
    try {
      loadConfig(rest);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual(
        expect.arrayContaining(['JOBBER_CLIENT_SECRET is required but not set', 'MONGO_URL is required but not set']),
      );
    }
  });

  it('treats an empty value as missing, so a blank .env line is not an empty secret', () => {
    expect(() => loadConfig({ ...valid, JOBBER_CLIENT_SECRET: '' })).toThrow(/JOBBER_CLIENT_SECRET is required/);
  });

  it('rejects bad values with the variable name and never echoes the value', () => {
    const secretLooking = 'not-a-32-byte-key-SECRET';
    let message = '';
    try {
      loadConfig({ ...valid, TOKEN_ENCRYPTION_KEY: secretLooking, PORT: 'eighty', JOBBER_API_URL: 'nope' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/TOKEN_ENCRYPTION_KEY: must be 32 bytes/);
    expect(message).toMatch(/PORT:/);
    expect(message).toMatch(/JOBBER_API_URL:/);
    expect(message).not.toContain(secretLooking);
  });

  it('marks cookies Secure exactly when PUBLIC_URL is https', () => {
    expect(loadConfig({ ...valid, PUBLIC_URL: 'https://jobber-sync.example.com' }).secureCookies).toBe(true);
    expect(loadConfig({ ...valid, PUBLIC_URL: 'http://localhost:3000' }).secureCookies).toBe(false);
    expect(loadConfig(valid).secureCookies).toBe(false); // the local default, http://localhost:3000
  });

  it('accepts a hex key and trims trailing slashes from base URLs', () => {
    const config = loadConfig({ ...valid, TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32), JOBBER_API_URL: 'http://127.0.0.1:4010/api/', PUBLIC_URL: 'http://x/' });
    expect(config.tokenEncryptionKey.equals(Buffer.alloc(32, 0xab))).toBe(true);
    expect(config.jobber.apiUrl).toBe('http://127.0.0.1:4010/api');
    expect(config.publicUrl).toBe('http://x');
  });

  it('lists the variable names operators rely on', () => {
    expect(CONFIG_VARIABLES).toEqual(
      expect.arrayContaining([
        'PORT',
        'PUBLIC_URL',
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'TEMPORAL_TASK_QUEUE',
        'MONGO_URL',
        'JOBBER_CLIENT_ID',
        'JOBBER_CLIENT_SECRET',
        'JOBBER_API_URL',
        'JOBBER_GRAPHQL_VERSION',
        'SLACK_BOT_TOKEN',
        'SLACK_SIGNING_SECRET',
        'SLACK_API_URL',
        'SLACK_ALERT_CHANNEL',
        'TOKEN_ENCRYPTION_KEY',
        'SESSION_SECRET',
      ]),
    );
  });

  describe('Temporal TLS and API key', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = makeTestPki();
    });
    afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

    /** The ConfigError's message, or '' when the config loads. */
    const problemsOf = (env: Record<string, string>): string => {
      try {
        loadConfig({ ...valid, ...env });
        return '';
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
    };
    const keyText = () => readFileSync(pki.clientKey, 'utf8');

    it('is plain gRPC unless a TLS variable or an API key is set', () => {
      expect(loadConfig(valid).temporal).toEqual({ address: 'localhost:7233', namespace: 'default', taskQueue: 'jobber-sync' });
      expect(temporalConnectionOptions(loadConfig(valid).temporal)).toEqual({ address: 'localhost:7233', tls: false, connectTimeout: 10_000 });
      expect(loadConfig({ ...valid, TEMPORAL_TLS: 'true' }).temporal.tls).toEqual({});
    });

    it('reads the CA, client certificate and key from files and hands them to the SDK options', () => {
      const temporal = loadConfig({
        ...valid,
        TEMPORAL_ADDRESS: 'jobber.a1b2c.tmprl.cloud:7233',
        TEMPORAL_TLS_CA: pki.ca,
        TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
        TEMPORAL_TLS_CERT: pki.clientCert,
        TEMPORAL_TLS_KEY: pki.clientKey,
      }).temporal;
      expect(temporalConnectionOptions(temporal)).toEqual({
        address: 'jobber.a1b2c.tmprl.cloud:7233',
        tls: {
          serverNameOverride: 'temporal.test',
          serverRootCACertificate: readFileSync(pki.ca),
          clientCertPair: { crt: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
        },
        connectTimeout: 10_000,
      });
    });

    it('takes PEM text inline, also on one line with literal \\n', () => {
      const oneLine = keyText().replace(/\n/g, '\\n');
      const temporal = loadConfig({ ...valid, TEMPORAL_TLS_CERT: readFileSync(pki.clientCert, 'utf8'), TEMPORAL_TLS_KEY: oneLine }).temporal;
      expect(temporal.tls?.clientCert?.key.toString()).toBe(keyText());
    });

    it('sends an API key over TLS by default, and in the clear only when TEMPORAL_TLS=false says so', () => {
      const withKey = loadConfig({ ...valid, TEMPORAL_API_KEY: 'tcak_abc.def' }).temporal;
      expect(temporalConnectionOptions(withKey)).toMatchObject({ tls: {}, apiKey: 'tcak_abc.def' });
      const plain = loadConfig({ ...valid, TEMPORAL_API_KEY: 'tcak_abc.def', TEMPORAL_TLS: 'false' }).temporal;
      expect(temporalConnectionOptions(plain)).toMatchObject({ tls: false, apiKey: 'tcak_abc.def' });
    });

    it('names the variable of a file it cannot read, and never echoes what a key variable holds', () => {
      expect(problemsOf({ TEMPORAL_TLS_CA: path.join(pki.dir, 'missing.pem') })).toMatch(/TEMPORAL_TLS_CA: cannot read the file .*missing\.pem \(ENOENT\)/);
      // A key pasted without its BEGIN line looks like a path: the message does not repeat it.
      const body = keyText().split('\n').slice(1, -2).join('');
      const message = problemsOf({ TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: body });
      expect(message).toMatch(/TEMPORAL_TLS_KEY: cannot read the file it names/);
      expect(message).not.toContain(body.slice(0, 20));
    });

    it('rejects a file that is not PEM, or not what the variable is for, by name', () => {
      const garbage = path.join(pki.dir, 'garbage.pem');
      writeFileSync(garbage, 'not a certificate at all');
      expect(problemsOf({ TEMPORAL_TLS_CA: garbage })).toMatch(/TEMPORAL_TLS_CA: is not a PEM certificate/);
      expect(problemsOf({ TEMPORAL_TLS_CA: pki.clientKey })).toMatch(/TEMPORAL_TLS_CA: is not a PEM certificate/);
      const message = problemsOf({ TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientCert });
      expect(message).toMatch(/TEMPORAL_TLS_KEY: is not a PEM private key/);
      const broken = path.join(pki.dir, 'broken.pem');
      writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect(problemsOf({ TEMPORAL_TLS_CA: broken })).toMatch(/TEMPORAL_TLS_CA: is not a valid PEM certificate/);
    });

    it('wants the client certificate and its key together, and matching', () => {
      expect(problemsOf({ TEMPORAL_TLS_CERT: pki.clientCert })).toMatch(/TEMPORAL_TLS_KEY is required when TEMPORAL_TLS_CERT is set/);
      expect(problemsOf({ TEMPORAL_TLS_KEY: pki.clientKey })).toMatch(/TEMPORAL_TLS_CERT is required when TEMPORAL_TLS_KEY is set/);
      const mismatch = problemsOf({ TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.serverKey });
      expect(mismatch).toMatch(/TEMPORAL_TLS_KEY: is not the private key of the certificate in TEMPORAL_TLS_CERT/);
      expect(mismatch).not.toContain(readFileSync(pki.serverKey, 'utf8').split('\n')[1]!);
    });

    it('rejects a blank or multi-line API key without echoing it, and a TEMPORAL_TLS that contradicts the rest', () => {
      expect(problemsOf({ TEMPORAL_API_KEY: '   ' })).toMatch(/TEMPORAL_API_KEY: must be the key alone/);
      const message = problemsOf({ TEMPORAL_API_KEY: 'tcak_secret-part\nsecond-line' });
      expect(message).toMatch(/TEMPORAL_API_KEY: must be the key alone/);
      expect(message).not.toContain('tcak_secret');
      expect(problemsOf({ TEMPORAL_TLS: 'yes' })).toMatch(/TEMPORAL_TLS: must be true or false/);
      expect(problemsOf({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: pki.ca })).toMatch(/TEMPORAL_TLS: is false, but TEMPORAL_TLS_CA is set/);
    });

    it("applies to the ops tool's configuration alike", () => {
      const stores = loadStoresConfig({ MONGO_URL: valid.MONGO_URL, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_API_KEY: 'k' });
      expect(stores.temporal).toMatchObject({ tls: { ca: readFileSync(pki.ca) }, apiKey: 'k' });
      expect(() => loadStoresConfig({ MONGO_URL: valid.MONGO_URL, TEMPORAL_TLS_CERT: pki.clientCert })).toThrow(/TEMPORAL_TLS_KEY is required/);
    });

    it('lists the new variables', () => {
      expect(CONFIG_VARIABLES).toEqual(
        expect.arrayContaining(['TEMPORAL_TLS', 'TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_NAME', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_API_KEY']),
      );
    });
  });
});
