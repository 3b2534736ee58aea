import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../src/config';

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
        'PORT', 'PUBLIC_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'MONGO_URL',
        'JOBBER_CLIENT_ID', 'JOBBER_CLIENT_SECRET', 'JOBBER_API_URL', 'JOBBER_GRAPHQL_VERSION', 'SLACK_BOT_TOKEN',
        'SLACK_SIGNING_SECRET', 'SLACK_API_URL', 'SLACK_ALERT_CHANNEL', 'TOKEN_ENCRYPTION_KEY', 'SESSION_SECRET',
      ]),
    );
  });
});
