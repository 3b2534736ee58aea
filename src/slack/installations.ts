/**
 * Each account's own Slack workspace ("Add to Slack", OAuth v2): the `slack_installations`
 * collection (schema in src/db/models.ts). Bot tokens are sealed with the Jobber tokens' cipher
 * (same key, same rotation) and bound to their account and workspace.
 */
import { WebClient } from '@slack/web-api';
import type { TokenCipher, SealedSecret } from '../crypto/tokens';
import { isDuplicateKey, type Models, type SlackInstallationDoc } from '../db/models';
import { BOT_SCOPES } from './scopes';

/** The app's OAuth credentials: the "Add to Slack" flow is on only when both are configured. */
export interface SlackAppCredentials {
  clientId: string;
  clientSecret: string;
}

/** What oauth.v2.access answers for a bot install (the fields we keep). */
export interface SlackGrant {
  teamId: string;
  teamName: string;
  appId?: string;
  botUserId?: string;
  accessToken: string;
  refreshToken?: string;
  expiresInSeconds?: number;
  scopes: string[];
}

/** Slack errors that mean the token will never work again: the installation is broken, not retried. */
export const DEAD_TOKEN_ERRORS = new Set(['invalid_auth', 'account_inactive', 'token_revoked', 'token_expired', 'not_authed']);

/** Refresh a rotating token this long before it expires. */
const REFRESH_MARGIN_MS = 10 * 60_000;

/** Clients as the service builds them: failures come back as errors, Temporal or the user retries. */
export function slackWebClient(apiUrl: string, token?: string): WebClient {
  return new WebClient(token, { slackApiUrl: apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, timeout: 10_000 });
}

const aad = (accountId: string, teamId: string, what: 'bot' | 'refresh') => `slack:${what}:${accountId}:${teamId}`;

/** The path Slack sends the installing user back to (the manifest's redirect URL). */
export const SLACK_OAUTH_CALLBACK = '/slack/oauth/callback';

/** The OAuth client from config, when "Add to Slack" is configured. */
export function createSlackOAuth(config: { publicUrl: string; slack: { apiUrl: string; app?: SlackAppCredentials } }): SlackOAuth | undefined {
  return config.slack.app ? new SlackOAuth(config.slack.app, config.slack.apiUrl, `${config.publicUrl}${SLACK_OAUTH_CALLBACK}`) : undefined;
}

/** The OAuth v2 side: authorize URL, code exchange, refresh, uninstall. */
export class SlackOAuth {
  constructor(
    readonly credentials: SlackAppCredentials,
    private readonly apiUrl: string,
    readonly redirectUri: string,
  ) {}

  /** `oauth/v2/authorize` lives beside the Web API (https://slack.com/oauth/v2/authorize for https://slack.com/api/). */
  authorizeUrl(state: string): string {
    const url = new URL('../oauth/v2/authorize', this.apiUrl);
    url.searchParams.set('client_id', this.credentials.clientId);
    url.searchParams.set('scope', BOT_SCOPES.join(','));
    url.searchParams.set('redirect_uri', this.redirectUri);
    url.searchParams.set('state', state);
    return url.toString();
  }

  async exchangeCode(code: string): Promise<SlackGrant> {
    const res = await slackWebClient(this.apiUrl).oauth.v2.access({
      client_id: this.credentials.clientId,
      client_secret: this.credentials.clientSecret,
      code,
      redirect_uri: this.redirectUri,
    });
    return grantOf(res as unknown as Record<string, unknown>);
  }

  async refresh(refreshToken: string): Promise<SlackGrant> {
    const res = await slackWebClient(this.apiUrl).oauth.v2.access({
      client_id: this.credentials.clientId,
      client_secret: this.credentials.clientSecret,
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    return grantOf(res as unknown as Record<string, unknown>);
  }

  /** Removes the app from the workspace (every token of it there dies). */
  async uninstall(token: string): Promise<void> {
    await slackWebClient(this.apiUrl, token).apps.uninstall({ client_id: this.credentials.clientId, client_secret: this.credentials.clientSecret });
  }
}

function grantOf(res: Record<string, unknown>): SlackGrant {
  const team = res.team as { id?: string; name?: string } | undefined;
  if (res.token_type !== 'bot' || typeof res.access_token !== 'string' || !team?.id) throw new Error('Slack answered without a bot token for a workspace');
  return {
    teamId: team.id,
    teamName: team.name ?? '',
    appId: typeof res.app_id === 'string' ? res.app_id : undefined,
    botUserId: typeof res.bot_user_id === 'string' ? res.bot_user_id : undefined,
    accessToken: res.access_token,
    refreshToken: typeof res.refresh_token === 'string' ? res.refresh_token : undefined,
    expiresInSeconds: typeof res.expires_in === 'number' ? res.expires_in : undefined,
    scopes: typeof res.scope === 'string' ? res.scope.split(',').filter(Boolean) : [],
  };
}

export type Installation = SlackInstallationDoc & { _id: string };

/** Slack refused the token for good: alerts stop (kept as undelivered) until the user reinstalls. */
export async function markInstallationBroken(models: Models, accountId: string, teamId: string, slackError: string, now = new Date()): Promise<void> {
  await models.SlackInstallation.updateOne(
    { _id: accountId, teamId, status: 'active' },
    { $set: { status: 'broken', statusReason: `Slack refused the bot token (${slackError})`, disconnectedAt: now } },
  );
}

/** The installations: written by the ingress (install, channel, disconnect, Slack's events) and, for a dead or refreshed token, by the worker. */
export class SlackInstallations {
  constructor(
    private readonly models: Models,
    private readonly cipher: TokenCipher,
    private readonly apiUrl: string,
    private readonly oauth?: SlackOAuth,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Refreshes in flight, by installation and the token pair they replace. A refresh token works
   * once, so concurrent alerts of one account share one refresh instead of racing (within this
   * process; see docs/ARCHITECTURE.md on one worker process with FerretDB).
   */
  private readonly refreshing = new Map<string, Promise<string>>();

  private sealedFields(accountId: string, grant: SlackGrant) {
    return {
      botToken: this.cipher.seal(grant.accessToken, aad(accountId, grant.teamId, 'bot')),
      refreshToken: grant.refreshToken ? this.cipher.seal(grant.refreshToken, aad(accountId, grant.teamId, 'refresh')) : undefined,
      tokenExpiresAt: grant.expiresInSeconds ? new Date(this.now().getTime() + grant.expiresInSeconds * 1000) : undefined,
    };
  }

  /**
   * Stores the account's installation (replacing an earlier one: one workspace per account). The
   * channel is kept when the workspace is the same, so a reinstall resumes where alerts went.
   */
  async install(accountId: string, grant: SlackGrant): Promise<void> {
    const previous = await this.models.SlackInstallation.findById(accountId, { teamId: 1, channel: 1, channelName: 1 }).lean();
    const keepChannel = previous?.teamId === grant.teamId;
    const write = () =>
      this.models.SlackInstallation.replaceOne(
        { _id: accountId },
        {
          teamId: grant.teamId,
          teamName: grant.teamName,
          appId: grant.appId,
          botUserId: grant.botUserId,
          scopes: grant.scopes,
          ...this.sealedFields(accountId, grant),
          ...(keepChannel && previous?.channel ? { channel: previous.channel, channelName: previous.channelName } : {}),
          status: 'active',
          installedAt: this.now(),
        },
        { upsert: true },
      );
    try {
      await write();
    } catch (err) {
      // Two installs raced: both upserts inserted, one lost on _id. The last write wins, whole.
      if (!isDuplicateKey(err)) throw err;
      await write();
    }
  }

  async get(accountId: string): Promise<Installation | undefined> {
    return ((await this.models.SlackInstallation.findById(accountId).lean()) as Installation | null) ?? undefined;
  }

  /** Accounts whose active installation is this workspace. */
  async accountsOfTeam(teamId: string): Promise<string[]> {
    const docs = await this.models.SlackInstallation.find({ teamId, status: 'active' }, { _id: 1 }).lean();
    return docs.map((d) => d._id);
  }

  /**
   * The accounts a workspace's `/jobber` and buttons may see: those installed there, else (the
   * fallback) those an operator linked with `npm run ops -- slack link`.
   */
  async accountsOfWorkspace(teamId: string): Promise<string[]> {
    const installed = await this.accountsOfTeam(teamId);
    if (installed.length) return installed;
    const link = await this.models.SlackLink.findById(teamId, { accountIds: 1 }).lean();
    return link?.accountIds ?? [];
  }

  /** A client with the workspace's own bot token, when an account installed the app there. */
  async clientOfTeam(teamId: string): Promise<WebClient | undefined> {
    const docs = (await this.models.SlackInstallation.find({ teamId, status: 'active' }).lean()) as Installation[];
    for (const inst of docs) {
      const client = await this.clientOf(inst);
      if (client) return client;
    }
    return undefined;
  }

  async setChannel(accountId: string, channel: string, channelName: string): Promise<boolean> {
    const { matchedCount } = await this.models.SlackInstallation.updateOne({ _id: accountId, status: 'active' }, { $set: { channel, channelName } });
    return matchedCount === 1;
  }

  /** The bot token, refreshed first when it rotates and is about to expire; re-sealed under the current key. */
  async botToken(inst: Installation): Promise<string | undefined> {
    if (inst.status !== 'active' || !inst.botToken) return undefined;
    const sealed = inst.botToken as SealedSecret;
    let token = this.cipher.open(sealed, aad(inst._id, inst.teamId, 'bot'));
    if (inst.refreshToken && inst.tokenExpiresAt && inst.tokenExpiresAt.getTime() - REFRESH_MARGIN_MS <= this.now().getTime() && this.oauth) {
      const key = `${inst._id}:${sealed.data}`;
      let refreshed = this.refreshing.get(key);
      if (!refreshed) {
        const oauth = this.oauth;
        refreshed = (async () => {
          const refresh = this.cipher.open(inst.refreshToken as SealedSecret, aad(inst._id, inst.teamId, 'refresh'));
          const grant = await oauth.refresh(refresh);
          // Only over the pair we read: a concurrent refresher's newer pair wins.
          await this.models.SlackInstallation.updateOne({ _id: inst._id, 'botToken.data': sealed.data }, { $set: this.sealedFields(inst._id, grant) });
          return grant.accessToken;
        })().finally(() => this.refreshing.delete(key));
        this.refreshing.set(key, refreshed);
      }
      token = await refreshed;
    } else if (sealed.keyId !== this.cipher.currentKeyId) {
      // Key rotation: tokens sealed with an earlier key are re-sealed on use (bot tokens rarely refresh).
      await this.models.SlackInstallation.updateOne(
        { _id: inst._id, 'botToken.data': sealed.data },
        { $set: { botToken: this.cipher.seal(token, aad(inst._id, inst.teamId, 'bot')) } },
      );
    }
    return token;
  }

  /** A Web API client with the installation's token, or undefined when it has none. */
  async clientOf(inst: Installation): Promise<WebClient | undefined> {
    const token = await this.botToken(inst);
    return token ? slackWebClient(this.apiUrl, token) : undefined;
  }

  async markBroken(accountId: string, teamId: string, slackError: string): Promise<void> {
    await markInstallationBroken(this.models, accountId, teamId, slackError, this.now());
  }

  /** app_uninstalled / tokens_revoked: every installation of the workspace forgets its tokens. */
  async forgetTeam(teamId: string, reason: string): Promise<number> {
    const { modifiedCount } = await this.models.SlackInstallation.updateMany(
      { teamId, status: { $ne: 'uninstalled' } },
      { $set: { status: 'uninstalled', statusReason: reason, disconnectedAt: this.now() }, $unset: { botToken: 1, refreshToken: 1, tokenExpiresAt: 1 } },
    );
    return modifiedCount;
  }

  /** "Disconnect Slack": uninstalls the app from the workspace (best effort) and forgets the installation. */
  async disconnect(accountId: string): Promise<void> {
    const inst = await this.get(accountId);
    if (!inst) return;
    const token = inst.botToken ? this.cipher.open(inst.botToken as SealedSecret, aad(inst._id, inst.teamId, 'bot')) : undefined;
    // Other accounts may share the workspace: only the last one out uninstalls the app there.
    const others = (await this.accountsOfTeam(inst.teamId)).filter((id) => id !== accountId);
    if (token && this.oauth && others.length === 0) {
      try {
        await this.oauth.uninstall(token);
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (!code || !DEAD_TOKEN_ERRORS.has(code)) throw err;
      }
    }
    await this.models.SlackInstallation.deleteOne({ _id: accountId });
  }
}

/** The channels the bot can post alerts to: public ones, and private ones it was invited to. */
export async function postableChannels(installations: Pick<SlackInstallations, 'clientOf'>, inst: Installation): Promise<{ id: string; name: string }[]> {
  const client = await installations.clientOf(inst);
  if (!client) return [];
  const out: { id: string; name: string }[] = [];
  let cursor: string | undefined;
  do {
    const res = await client.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 200, ...(cursor ? { cursor } : {}) });
    for (const c of res.channels ?? []) if (c.id && c.name && (!c.is_private || c.is_member)) out.push({ id: c.id, name: c.name });
    cursor = res.response_metadata?.next_cursor || undefined;
  } while (cursor && out.length < 2000);
  return out;
}
