import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { z } from 'zod';

/** Raised when the environment is missing or has a bad value; names every offending variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const url = z.string().url();
const port = z.coerce.number().int().min(0).max(65535);
const secret = z.string().min(1);

/** A 32-byte key as base64 or hex (64 hex chars): AES-256-GCM for tokens at rest. */
const decodeKey = (value: string): Buffer => (/^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64'));

const encryptionKey = z.string().transform((value, ctx) => {
  const key = decodeKey(value);
  if (key.length !== 32) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be 32 bytes, as base64 or 64 hex characters' });
    return z.NEVER;
  }
  return key;
});

/** Earlier keys, comma-separated: tokens they sealed still open, and are re-sealed at the next refresh. */
const previousKeys = z.string().transform((value, ctx) => {
  const keys = value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map(decodeKey);
  if (keys.some((k) => k.length !== 32)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'every key must be 32 bytes, as base64 or 64 hex characters' });
    return z.NEVER;
  }
  return keys;
});

/**
 * A certificate or private key for Temporal: a file path, or the PEM itself (as one line with
 * literal \n too, as .env files and secret stores often hold it). Never echoes a key's value.
 */
const pem = (kind: 'certificate' | 'key') =>
  z.string().transform((value, ctx) => {
    const fail = (message: string) => {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      return z.NEVER;
    };
    let text = value;
    if (!value.trimStart().startsWith('-----BEGIN')) {
      try {
        text = readFileSync(value, 'utf8');
      } catch (err) {
        // A certificate's path is no secret; a key's value might be the key itself, mistyped.
        const what = kind === 'certificate' ? `the file ${value}` : 'the file it names';
        return fail(`cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}); give a file path or the PEM text`);
      }
    }
    text = text.replace(/\\n/g, '\n');
    if (kind === 'certificate') {
      if (!text.includes('-----BEGIN CERTIFICATE-----')) return fail('is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)');
      try {
        new X509Certificate(text);
      } catch {
        return fail('is not a valid PEM certificate');
      }
    } else {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return fail('is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line)');
      try {
        createPrivateKey(text);
      } catch {
        return fail('is not a valid PEM private key (an encrypted key is not supported)');
      }
    }
    return Buffer.from(text);
  });

/** An API key goes into a header: printable ASCII without spaces, nothing a header cannot carry. Never echoed. */
const apiKey = z.string().refine((v) => v.trim() !== '' && /^[\x21-\x7e]+$/.test(v), {
  message: 'must be the key alone: not blank, no spaces or line breaks',
});

/** `w` of MongoDB's write concern: majority (what a replica set needs to keep a write through a failover) or a count of members, 1 or more. */
const writeConcern = z
  .string()
  .regex(/^(majority|[1-9]\d*)$/, 'must be majority or a number of members (1 or more); unacknowledged writes (0) are not allowed')
  .transform((v): 'majority' | number => (v === 'majority' ? v : Number(v)));

const flag = z.enum(['true', 'false'], { errorMap: () => ({ message: 'must be true or false' }) }).transform((v) => v === 'true');

export const configSchema = z.object({
  PORT: port.default(3000),
  PUBLIC_URL: url.default('http://localhost:3000'),
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('jobber-sync'),
  TEMPORAL_TLS: flag.optional(),
  TEMPORAL_TLS_CA: pem('certificate').optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: pem('certificate').optional(),
  TEMPORAL_TLS_KEY: pem('key').optional(),
  TEMPORAL_API_KEY: apiKey.optional(),
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URL'),
  MONGO_WRITE_CONCERN: writeConcern.default('majority'),
  JOBBER_CLIENT_ID: secret,
  JOBBER_CLIENT_SECRET: secret,
  JOBBER_API_URL: url.default('https://api.getjobber.com/api'),
  JOBBER_GRAPHQL_VERSION: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like 2025-04-16')
    .default('2025-04-16'),
  // The operator's own workspace (operator alerts, accounts without a workspace): optional, as a pair.
  SLACK_BOT_TOKEN: secret.optional(),
  SLACK_SIGNING_SECRET: secret,
  SLACK_API_URL: url.default('https://slack.com/api/'),
  SLACK_ALERT_CHANNEL: z.string().min(1).optional(),
  // The app's OAuth credentials: "Add to Slack" for each business, on when both are set.
  SLACK_CLIENT_ID: z.string().min(1).optional(),
  SLACK_CLIENT_SECRET: secret.optional(),
  TOKEN_ENCRYPTION_KEY: encryptionKey,
  TOKEN_ENCRYPTION_PREVIOUS_KEYS: previousKeys.optional(),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters'),
  OTEL_EXPORTER_OTLP_ENDPOINT: url.refine((v) => /^https?:/.test(v), 'must be an http:// or https:// URL (OTLP over HTTP)').optional(),
});

type Env = z.infer<typeof configSchema>;

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Present when the connection uses TLS: on with any TLS variable or an API key, unless TEMPORAL_TLS=false. */
  tls?: {
    /** TEMPORAL_TLS_SERVER_NAME: the name the server's certificate must carry, when not the address's host. */
    serverName?: string;
    /** TEMPORAL_TLS_CA (PEM): trust this CA instead of the system's. */
    ca?: Buffer;
    /** TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (PEM): the client certificate for mTLS. */
    clientCert?: { cert: Buffer; key: Buffer };
  };
  /** TEMPORAL_API_KEY: sent as `Authorization: Bearer` (Temporal Cloud API keys). */
  apiKey?: string;
}

export interface Config {
  port: number;
  publicUrl: string;
  temporal: TemporalConfig;
  mongoUrl: string;
  /** MONGO_WRITE_CONCERN: the `w` every write waits for. */
  mongoWriteConcern: 'majority' | number;
  jobber: { clientId: string; clientSecret: string; apiUrl: string; graphqlVersion: string };
  slack: {
    /** The operator workspace's bot token and channel; absent when there is none. */
    botToken?: string;
    signingSecret: string;
    apiUrl: string;
    alertChannel?: string;
    /** OAuth v2 ("Add to Slack"); absent when businesses cannot install their own workspace. */
    app?: { clientId: string; clientSecret: string };
  };
  tokenEncryptionKey: Buffer;
  tokenEncryptionPreviousKeys: Buffer[];
  sessionSecret: string;
  /** PUBLIC_URL is https: cookies are sent with the Secure flag. */
  secureCookies: boolean;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: traces go there (src/telemetry); unset, tracing is off. */
  tracing?: { endpoint: string };
}

function toConfig(env: Env): Config {
  return {
    port: env.PORT,
    publicUrl: env.PUBLIC_URL.replace(/\/$/, ''),
    temporal: temporalConfig(env),
    mongoUrl: env.MONGO_URL,
    mongoWriteConcern: env.MONGO_WRITE_CONCERN,
    jobber: {
      clientId: env.JOBBER_CLIENT_ID,
      clientSecret: env.JOBBER_CLIENT_SECRET,
      apiUrl: env.JOBBER_API_URL.replace(/\/$/, ''),
      graphqlVersion: env.JOBBER_GRAPHQL_VERSION,
    },
    slack: {
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      apiUrl: env.SLACK_API_URL.endsWith('/') ? env.SLACK_API_URL : `${env.SLACK_API_URL}/`,
      alertChannel: env.SLACK_ALERT_CHANNEL,
      ...(env.SLACK_CLIENT_ID && env.SLACK_CLIENT_SECRET && { app: { clientId: env.SLACK_CLIENT_ID, clientSecret: env.SLACK_CLIENT_SECRET } }),
    },
    tokenEncryptionKey: env.TOKEN_ENCRYPTION_KEY,
    tokenEncryptionPreviousKeys: env.TOKEN_ENCRYPTION_PREVIOUS_KEYS ?? [],
    sessionSecret: env.SESSION_SECRET,
    secureCookies: env.PUBLIC_URL.startsWith('https:'),
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT && { tracing: { endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT } }),
  };
}

/** Every variable the service reads; docker-compose.yml and .env.example are checked against it. */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape) as (keyof Env)[];

/** Reads and validates the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = parseEnv(configSchema, env);
  const problems = slackProblems(parsed);
  if (problems.length > 0) throw new ConfigError(problems);
  return toConfig(parsed);
}

/** Slack variables that only make sense together; alerts need somewhere to go. */
function slackProblems(env: Env): string[] {
  const problems: string[] = [];
  const pair = (a: keyof Env, b: keyof Env, why: string) => {
    if (env[a] !== undefined && env[b] === undefined) problems.push(`${String(b)} is required when ${String(a)} is set (${why})`);
    if (env[b] !== undefined && env[a] === undefined) problems.push(`${String(a)} is required when ${String(b)} is set (${why})`);
  };
  pair('SLACK_BOT_TOKEN', 'SLACK_ALERT_CHANNEL', 'the operator workspace needs both');
  pair('SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', '"Add to Slack" needs both');
  if (!env.SLACK_BOT_TOKEN && !env.SLACK_CLIENT_ID && !env.SLACK_CLIENT_SECRET && !env.SLACK_ALERT_CHANNEL)
    problems.push(
      'SLACK_BOT_TOKEN and SLACK_ALERT_CHANNEL (the operator workspace), or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Add to Slack), or both, are required: alerts need a workspace',
    );
  return problems;
}

const TEMPORAL_VARIABLES = {
  TEMPORAL_ADDRESS: true,
  TEMPORAL_NAMESPACE: true,
  TEMPORAL_TASK_QUEUE: true,
  TEMPORAL_TLS: true,
  TEMPORAL_TLS_CA: true,
  TEMPORAL_TLS_SERVER_NAME: true,
  TEMPORAL_TLS_CERT: true,
  TEMPORAL_TLS_KEY: true,
  TEMPORAL_API_KEY: true,
} as const;
type TemporalEnv = Pick<Env, keyof typeof TEMPORAL_VARIABLES>;

const storesSchema = configSchema.pick({ ...TEMPORAL_VARIABLES, MONGO_URL: true });

/** What the ops tool needs: where Temporal and MongoDB are, and Temporal's credentials. */
export function loadStoresConfig(env: NodeJS.ProcessEnv = process.env): Pick<Config, 'temporal' | 'mongoUrl'> {
  const parsed = parseEnv(storesSchema, env);
  return { temporal: temporalConfig(parsed), mongoUrl: parsed.MONGO_URL };
}

/** The pairs and combinations no single variable can check; each problem names its variable. */
function temporalProblems(env: Partial<TemporalEnv>): string[] {
  const problems: string[] = [];
  if (env.TEMPORAL_TLS_CERT && !env.TEMPORAL_TLS_KEY) problems.push('TEMPORAL_TLS_KEY is required when TEMPORAL_TLS_CERT is set (mTLS needs both)');
  if (env.TEMPORAL_TLS_KEY && !env.TEMPORAL_TLS_CERT) problems.push('TEMPORAL_TLS_CERT is required when TEMPORAL_TLS_KEY is set (mTLS needs both)');
  if (env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY) {
    let matches = false;
    try {
      matches = new X509Certificate(env.TEMPORAL_TLS_CERT).checkPrivateKey(createPrivateKey(env.TEMPORAL_TLS_KEY));
    } catch {
      // Both parsed on their own; a pair of different key types does not match either.
    }
    if (!matches) problems.push('TEMPORAL_TLS_KEY: is not the private key of the certificate in TEMPORAL_TLS_CERT');
  }
  const tlsSettings = (['TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_NAME', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'] as const).filter(
    (name) => env[name] !== undefined,
  );
  if (env.TEMPORAL_TLS === false && tlsSettings.length > 0)
    problems.push(`TEMPORAL_TLS: is false, but ${tlsSettings.join(', ')} ${tlsSettings.length > 1 ? 'are' : 'is'} set`);
  return problems;
}

function temporalConfig(env: TemporalEnv): TemporalConfig {
  const problems = temporalProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  const tlsOn = env.TEMPORAL_TLS ?? Boolean(env.TEMPORAL_TLS_CA || env.TEMPORAL_TLS_SERVER_NAME || env.TEMPORAL_TLS_CERT || env.TEMPORAL_API_KEY);
  return {
    address: env.TEMPORAL_ADDRESS,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    ...(tlsOn && {
      tls: {
        ...(env.TEMPORAL_TLS_SERVER_NAME && { serverName: env.TEMPORAL_TLS_SERVER_NAME }),
        ...(env.TEMPORAL_TLS_CA && { ca: env.TEMPORAL_TLS_CA }),
        ...(env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY && { clientCert: { cert: env.TEMPORAL_TLS_CERT, key: env.TEMPORAL_TLS_KEY } }),
      },
    }),
    ...(env.TEMPORAL_API_KEY && { apiKey: env.TEMPORAL_API_KEY }),
  };
}

function parseEnv<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  // An empty string means "not set": a blank line in .env must not become an empty secret.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        return issue.code === 'invalid_type' && issue.received === 'undefined' ? `${name} is required but not set` : `${name}: ${issue.message}`;
      }),
    );
  }
  return parsed.data as z.infer<S>;
}
