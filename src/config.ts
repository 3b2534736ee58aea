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
const decodeKey = (value: string): Buffer =>
  /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');

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
  const keys = value.split(',').map((k) => k.trim()).filter(Boolean).map(decodeKey);
  if (keys.some((k) => k.length !== 32)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'every key must be 32 bytes, as base64 or 64 hex characters' });
    return z.NEVER;
  }
  return keys;
});

export const configSchema = z.object({
  PORT: port.default(3000),
  PUBLIC_URL: url.default('http://localhost:3000'),
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('jobber-sync'),
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URL'),
  JOBBER_CLIENT_ID: secret,
  JOBBER_CLIENT_SECRET: secret,
  JOBBER_API_URL: url.default('https://api.getjobber.com/api'),
  JOBBER_GRAPHQL_VERSION: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like 2025-04-16').default('2025-04-16'),
  SLACK_BOT_TOKEN: secret,
  SLACK_SIGNING_SECRET: secret,
  SLACK_API_URL: url.default('https://slack.com/api/'),
  SLACK_ALERT_CHANNEL: z.string().min(1),
  TOKEN_ENCRYPTION_KEY: encryptionKey,
  TOKEN_ENCRYPTION_PREVIOUS_KEYS: previousKeys.optional(),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters'),
});

type Env = z.infer<typeof configSchema>;

export interface Config {
  port: number;
  publicUrl: string;
  temporal: { address: string; namespace: string; taskQueue: string };
  mongoUrl: string;
  jobber: { clientId: string; clientSecret: string; apiUrl: string; graphqlVersion: string };
  slack: { botToken: string; signingSecret: string; apiUrl: string; alertChannel: string };
  tokenEncryptionKey: Buffer;
  tokenEncryptionPreviousKeys: Buffer[];
  sessionSecret: string;
  /** PUBLIC_URL is https: cookies are sent with the Secure flag. */
  secureCookies: boolean;
}

function toConfig(env: Env): Config {
  return {
    port: env.PORT,
    publicUrl: env.PUBLIC_URL.replace(/\/$/, ''),
    temporal: { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE, taskQueue: env.TEMPORAL_TASK_QUEUE },
    mongoUrl: env.MONGO_URL,
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
    },
    tokenEncryptionKey: env.TOKEN_ENCRYPTION_KEY,
    tokenEncryptionPreviousKeys: env.TOKEN_ENCRYPTION_PREVIOUS_KEYS ?? [],
    sessionSecret: env.SESSION_SECRET,
    secureCookies: env.PUBLIC_URL.startsWith('https:'),
  };
}

/** Every variable the service reads; docker-compose.yml and .env.example are checked against it. */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape) as (keyof Env)[];

/** Reads and validates the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return toConfig(parseEnv(configSchema, env));
}

const storesSchema = configSchema.pick({ TEMPORAL_ADDRESS: true, TEMPORAL_NAMESPACE: true, TEMPORAL_TASK_QUEUE: true, MONGO_URL: true });

/** What the ops tool needs: where Temporal and MongoDB are. No secrets. */
export function loadStoresConfig(env: NodeJS.ProcessEnv = process.env): Pick<Config, 'temporal' | 'mongoUrl'> {
  const parsed = parseEnv(storesSchema, env);
  return {
    temporal: { address: parsed.TEMPORAL_ADDRESS, namespace: parsed.TEMPORAL_NAMESPACE, taskQueue: parsed.TEMPORAL_TASK_QUEUE },
    mongoUrl: parsed.MONGO_URL,
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
        return issue.code === 'invalid_type' && issue.received === 'undefined'
          ? `${name} is required but not set`
          : `${name}: ${issue.message}`;
      }),
    );
  }
  return parsed.data as z.infer<S>;
}
