/**
 * Each account's own Slack workspace ("Add to Slack", OAuth v2): the `slack_installations`
 * collection (schema in src/db/models.ts). Bot tokens are sealed with the Jobber tokens' cipher
 * (same key, same rotation) and bound to their account and workspace.
 */
import { randomUUID } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import type { TokenCipher, SealedSecret } from '../crypto/tokens';
import type { Models, SlackInstallationDoc } from '../db/models';
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

/** What the writer answers about an installation: never a token or a name, so it may cross Temporal. */
export interface InstallationInfo {
  status: 'active' | 'broken' | 'uninstalled' | 'none';
  tokenVersion: number;
  hasChannel: boolean;
}

/** The Events API events that take a workspace's tokens away. */
export type SlackRevocation = 'app_uninstalled' | 'tokens_revoked';

const REVOCATION_REASONS: Record<SlackRevocation, string> = {
  app_uninstalled: 'the app was removed from the Slack workspace',
  tokens_revoked: 'Slack revoked the bot token',
};

/**
 * The one writer of an account's installation, as the ingress and the event activities reach it:
 * the account's Slack installation workflow (src/workflow-client/slack-installation.ts). Every
 * method names ids only.
 */
export interface InstallationWriter {
  /** Adopts a stored grant (slack_grants); resolves once the installation holds it. */
  install(accountId: string, grantId: string): Promise<boolean>;
  /** Alerts go to this channel, if the bot can post there (checked by the writer); false otherwise. */
  chooseChannel(accountId: string, channelId: string): Promise<boolean>;
  /** The bot token of `staleVersion` is about to expire (or sealed under an old key): replace it once. */
  refresh(accountId: string, staleVersion: number): Promise<InstallationInfo>;
  /** Slack refused the token of `tokenVersion` for good: marked broken unless a newer token replaced it. */
  markBroken(accountId: string, tokenVersion: number, slackError: string): Promise<InstallationInfo>;
  /** app_uninstalled / tokens_revoked for the workspace `teamId`. Returns without waiting (the Events API answers in 3 s). */
  forget(accountId: string, teamId: string, event: SlackRevocation): Promise<void>;
  /** "Disconnect Slack": uninstall (when last out) and forget. */
  disconnect(accountId: string): Promise<void>;
}

/** Slack errors of a refresh that mean the refresh token will never work again. */
const DEAD_REFRESH_ERRORS = new Set([...DEAD_TOKEN_ERRORS, 'invalid_refresh_token', 'invalid_grant']);

const slackErrorOf = (err: unknown): string | undefined => (err as { data?: { error?: string } }).data?.error;

/**
 * The writer's own operations on the installations, called only by the installation workflow's
 * activities (activities/slack.ts), one at a time per installation: FerretDB applies every update
 * as a read-modify-write, so a document with two writers loses writes, and a rotating refresh
 * token works once. Nothing else writes `slack_installations`.
 */
export class InstallationStore {
  constructor(
    private readonly models: Models,
    private readonly cipher: TokenCipher,
    readonly apiUrl: string,
    private readonly oauth?: SlackOAuth,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The installations read as the writer itself reads them: a refresh on the way is done here, not asked for. */
  asWriterReader(): SlackInstallations {
    return new SlackInstallations(this.models, this.cipher, this.apiUrl, inProcessWriter(this), this.now);
  }

  private sealedFields(accountId: string, grant: SlackGrant) {
    return {
      botToken: this.cipher.seal(grant.accessToken, aad(accountId, grant.teamId, 'bot')),
      refreshToken: grant.refreshToken ? this.cipher.seal(grant.refreshToken, aad(accountId, grant.teamId, 'refresh')) : undefined,
      tokenExpiresAt: grant.expiresInSeconds ? new Date(this.now().getTime() + grant.expiresInSeconds * 1000) : undefined,
    };
  }

  private async read(accountId: string): Promise<Installation | undefined> {
    return ((await this.models.SlackInstallation.findById(accountId).lean()) as Installation | null) ?? undefined;
  }

  async info(accountId: string): Promise<InstallationInfo> {
    return infoOf(await this.read(accountId));
  }

  /**
   * The OAuth callback's side: what Slack granted, sealed as the installation will hold it, in a
   * document of its own (the ingress writes grants, never installations). Returns its random id.
   */
  async storeGrant(accountId: string, grant: SlackGrant): Promise<string> {
    const grantId = randomUUID();
    await this.models.SlackGrant.create({
      _id: grantId,
      accountId,
      teamId: grant.teamId,
      teamName: grant.teamName,
      appId: grant.appId,
      botUserId: grant.botUserId,
      scopes: grant.scopes,
      ...this.sealedFields(accountId, grant),
      receivedAt: this.now(),
    });
    return grantId;
  }

  /**
   * Makes the grant the account's installation (replacing an earlier one: one workspace per
   * account). The channel is kept when the workspace is the same, so a reinstall resumes where
   * alerts went. Adopting the same grant again changes nothing.
   */
  async adoptGrant(accountId: string, grantId: string): Promise<{ installed: boolean; info: InstallationInfo }> {
    const previous = await this.read(accountId);
    const grant = await this.models.SlackGrant.findById(grantId).lean();
    if (!grant || grant.accountId !== accountId) {
      return { installed: previous?.grantId === grantId && previous.status === 'active', info: infoOf(previous) };
    }
    const keepChannel = previous?.teamId === grant.teamId && previous?.channel;
    const doc = {
      teamId: grant.teamId,
      teamName: grant.teamName,
      appId: grant.appId,
      botUserId: grant.botUserId,
      scopes: grant.scopes,
      botToken: grant.botToken,
      refreshToken: grant.refreshToken ?? undefined,
      tokenExpiresAt: grant.tokenExpiresAt ?? undefined,
      ...(keepChannel ? { channel: previous.channel, channelName: previous.channelName } : {}),
      status: 'active' as const,
      installedAt: this.now(),
      tokenVersion: (previous?.tokenVersion ?? 0) + 1,
      grantId,
    };
    await this.models.SlackInstallation.replaceOne({ _id: accountId }, doc, { upsert: true });
    await this.models.SlackGrant.deleteOne({ _id: grantId });
    return { installed: true, info: infoOf({ ...doc, _id: accountId } as Installation) };
  }

  /** The bot token, refreshed (or re-sealed under the current key) first when due: the writer's own way to a token. */
  private async tokenOf(inst: Installation): Promise<string | undefined> {
    const fresh = await this.refresh(inst._id, inst.tokenVersion ?? 0);
    if (fresh.status !== 'active') return undefined;
    const now = await this.read(inst._id);
    return now?.botToken ? this.cipher.open(now.botToken as SealedSecret, aad(now._id, now.teamId, 'bot')) : undefined;
  }

  /** A client with the installation's token, refreshing it here when due (the writer's own calls only). */
  async clientOf(inst: Installation): Promise<WebClient | undefined> {
    const token = await this.tokenOf(inst);
    return token ? slackWebClient(this.apiUrl, token) : undefined;
  }

  /** Alerts go to `channelId` when the bot can post there, as Slack lists the channels now. */
  async chooseChannel(accountId: string, channelId: string): Promise<{ chosen: boolean; info: InstallationInfo }> {
    const inst = await this.read(accountId);
    if (!inst || inst.status !== 'active') return { chosen: false, info: infoOf(inst) };
    const found = (await postableChannels(this, inst)).find((c) => c.id === channelId);
    // The list may have refreshed the token: write over the document as it is now.
    const current = await this.read(accountId);
    if (!found || !current || current.status !== 'active') return { chosen: false, info: infoOf(current) };
    await this.models.SlackInstallation.updateOne({ _id: accountId }, { $set: { channel: found.id, channelName: found.name } });
    return { chosen: true, info: infoOf({ ...current, channel: found.id }) };
  }

  /**
   * Replaces the bot token of `staleVersion` when it rotates and is about to expire, once: a
   * caller that asks after the token changed gets the new version without a Slack call. A token
   * sealed under an earlier key is re-sealed under the current one. A refresh Slack refuses for
   * good marks the installation broken.
   */
  async refresh(accountId: string, staleVersion: number): Promise<InstallationInfo> {
    const inst = await this.read(accountId);
    if (!inst || inst.status !== 'active' || !inst.botToken || (inst.tokenVersion ?? 0) !== staleVersion) return infoOf(inst);
    const sealed = inst.botToken as SealedSecret;
    if (inst.refreshToken && inst.tokenExpiresAt && inst.tokenExpiresAt.getTime() - REFRESH_MARGIN_MS <= this.now().getTime() && this.oauth) {
      const refresh = this.cipher.open(inst.refreshToken as SealedSecret, aad(inst._id, inst.teamId, 'refresh'));
      let grant: SlackGrant;
      try {
        grant = await this.oauth.refresh(refresh);
      } catch (err) {
        const code = slackErrorOf(err);
        if (!code || !DEAD_REFRESH_ERRORS.has(code)) throw err;
        await this.breakOff(inst, `Slack refused the refresh token (${code})`);
        return infoOf({ ...inst, status: 'broken' });
      }
      const tokenVersion = staleVersion + 1;
      await this.models.SlackInstallation.updateOne(
        { _id: accountId },
        { $set: { ...this.sealedFields(accountId, { ...grant, teamId: inst.teamId }), tokenVersion } },
      );
      return infoOf({ ...inst, tokenVersion });
    }
    if (sealed.keyId !== this.cipher.currentKeyId || (inst.refreshToken && (inst.refreshToken as SealedSecret).keyId !== this.cipher.currentKeyId)) {
      // Key rotation: tokens sealed with an earlier key are re-sealed (bot tokens rarely refresh).
      const bot = this.cipher.open(sealed, aad(inst._id, inst.teamId, 'bot'));
      const refreshToken = inst.refreshToken ? this.cipher.open(inst.refreshToken as SealedSecret, aad(inst._id, inst.teamId, 'refresh')) : undefined;
      await this.models.SlackInstallation.updateOne(
        { _id: accountId },
        {
          $set: {
            botToken: this.cipher.seal(bot, aad(inst._id, inst.teamId, 'bot')),
            ...(refreshToken ? { refreshToken: this.cipher.seal(refreshToken, aad(inst._id, inst.teamId, 'refresh')) } : {}),
          },
        },
      );
    }
    return infoOf(inst);
  }

  private async breakOff(inst: Installation, reason: string): Promise<void> {
    await this.models.SlackInstallation.updateOne({ _id: inst._id }, { $set: { status: 'broken', statusReason: reason, disconnectedAt: this.now() } });
  }

  /** Slack refused the token of `tokenVersion` for good: alerts stop (kept as undelivered) until the user reinstalls. */
  async markBroken(accountId: string, tokenVersion: number, slackError: string): Promise<InstallationInfo> {
    const inst = await this.read(accountId);
    // A refusal of an earlier token (before a refresh or a reinstall) says nothing about this one.
    if (!inst || inst.status !== 'active' || (inst.tokenVersion ?? 0) !== tokenVersion) return infoOf(inst);
    await this.breakOff(inst, `Slack refused the bot token (${slackError})`);
    return infoOf({ ...inst, status: 'broken' });
  }

  /** app_uninstalled / tokens_revoked of the workspace: the installation forgets its tokens. */
  async forget(accountId: string, teamId: string, event: SlackRevocation): Promise<InstallationInfo> {
    const inst = await this.read(accountId);
    if (!inst || inst.teamId !== teamId || inst.status === 'uninstalled') return infoOf(inst);
    await this.models.SlackInstallation.updateOne(
      { _id: accountId },
      {
        $set: { status: 'uninstalled', statusReason: REVOCATION_REASONS[event], disconnectedAt: this.now() },
        $unset: { botToken: 1, refreshToken: 1, tokenExpiresAt: 1 },
      },
    );
    return infoOf({ ...inst, status: 'uninstalled' });
  }

  /** "Disconnect Slack": uninstalls the app from the workspace (best effort) and forgets the installation. */
  async disconnect(accountId: string): Promise<InstallationInfo> {
    const inst = await this.read(accountId);
    if (!inst) return infoOf(undefined);
    const token = inst.status === 'active' && inst.botToken ? await this.tokenOf(inst) : undefined;
    // Other accounts may share the workspace: only the last one out uninstalls the app there.
    const others = await this.models.SlackInstallation.countDocuments({ teamId: inst.teamId, status: 'active', _id: { $ne: accountId } });
    if (token && this.oauth && others === 0) {
      try {
        await this.oauth.uninstall(token);
      } catch (err) {
        const code = slackErrorOf(err);
        if (!code || !DEAD_TOKEN_ERRORS.has(code)) throw err;
      }
    }
    await this.models.SlackInstallation.deleteOne({ _id: accountId });
    return infoOf(undefined);
  }
}

function infoOf(inst: Pick<Installation, 'status' | 'tokenVersion' | 'channel'> | undefined): InstallationInfo {
  return inst
    ? { status: inst.status, tokenVersion: inst.tokenVersion ?? 0, hasChannel: Boolean(inst.channel) }
    : { status: 'none', tokenVersion: 0, hasChannel: false };
}

/**
 * The writer inside one process: the store's operations, one at a time per installation. Right
 * only where this process is the installation's one writer: inside the installation workflow's
 * activities, and in tests of the store alone.
 */
export function inProcessWriter(store: InstallationStore): InstallationWriter {
  const tails = new Map<string, Promise<unknown>>();
  const serial = <T>(accountId: string, op: () => Promise<T>): Promise<T> => {
    const run = (tails.get(accountId) ?? Promise.resolve()).catch(() => undefined).then(op);
    const tail = run.finally(() => {
      if (tails.get(accountId) === tail) tails.delete(accountId);
    });
    tails.set(accountId, tail);
    return run;
  };
  return {
    install: (accountId, grantId) => serial(accountId, async () => (await store.adoptGrant(accountId, grantId)).installed),
    chooseChannel: (accountId, channelId) => serial(accountId, async () => (await store.chooseChannel(accountId, channelId)).chosen),
    refresh: (accountId, staleVersion) => serial(accountId, () => store.refresh(accountId, staleVersion)),
    markBroken: (accountId, tokenVersion, slackError) => serial(accountId, () => store.markBroken(accountId, tokenVersion, slackError)),
    forget: (accountId, teamId, event) =>
      serial(accountId, async () => {
        await store.forget(accountId, teamId, event);
      }),
    disconnect: (accountId) =>
      serial(accountId, async () => {
        await store.disconnect(accountId);
      }),
  };
}

/**
 * The installations as the ingress and the event activities see them: they read, and ask the
 * installation's one writer (InstallationWriter) for every change, a token refresh included.
 */
export class SlackInstallations {
  constructor(
    private readonly models: Models,
    private readonly cipher: TokenCipher,
    private readonly apiUrl: string,
    private readonly writer: InstallationWriter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The OAuth callback: the grant is stored sealed, then the installation workflow adopts it (waited for). */
  async install(accountId: string, grant: SlackGrant): Promise<boolean> {
    const grantId = await new InstallationStore(this.models, this.cipher, this.apiUrl, undefined, this.now).storeGrant(accountId, grant);
    return this.writer.install(accountId, grantId);
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

  /** Asks the writer to point alerts at `channelId`; false when the bot cannot post there. */
  async setChannel(accountId: string, channelId: string): Promise<boolean> {
    return this.writer.chooseChannel(accountId, channelId);
  }

  /**
   * The bot token. When it rotates and is about to expire (or was sealed under an earlier key),
   * the writer replaces it first, once for every caller in every process, and it is read again.
   */
  async botToken(inst: Installation): Promise<string | undefined> {
    return (await this.versionedToken(inst))?.token;
  }

  /** The bot token with its version (what a refusal of it names). */
  async versionedToken(inst: Installation): Promise<{ token: string; tokenVersion: number } | undefined> {
    if (inst.status !== 'active' || !inst.botToken) return undefined;
    const sealed = inst.botToken as SealedSecret;
    const tokenVersion = inst.tokenVersion ?? 0;
    const due = inst.refreshToken && inst.tokenExpiresAt && inst.tokenExpiresAt.getTime() - REFRESH_MARGIN_MS <= this.now().getTime();
    if (!due) {
      const token = this.cipher.open(sealed, aad(inst._id, inst.teamId, 'bot'));
      // Still good under an earlier key: re-sealing it is the writer's.
      if (sealed.keyId !== this.cipher.currentKeyId) await this.writer.refresh(inst._id, tokenVersion).catch(() => undefined);
      return { token, tokenVersion };
    }
    const info = await this.writer.refresh(inst._id, tokenVersion);
    if (info.status !== 'active') return undefined;
    const now = await this.get(inst._id);
    return now?.status === 'active' && now.botToken
      ? { token: this.cipher.open(now.botToken as SealedSecret, aad(now._id, now.teamId, 'bot')), tokenVersion: now.tokenVersion ?? 0 }
      : undefined;
  }

  /** A Web API client with the installation's token, or undefined when it has none. */
  async clientOf(inst: Installation): Promise<WebClient | undefined> {
    const token = await this.botToken(inst);
    return token ? slackWebClient(this.apiUrl, token) : undefined;
  }

  /** Slack refused the token this installation held at `tokenVersion`: the writer marks it broken. */
  async markBroken(accountId: string, tokenVersion: number, slackError: string): Promise<InstallationInfo> {
    return this.writer.markBroken(accountId, tokenVersion, slackError);
  }

  /** app_uninstalled / tokens_revoked: each installation of the workspace is told to forget its tokens. */
  async forgetTeam(teamId: string, event: SlackRevocation): Promise<number> {
    const docs = await this.models.SlackInstallation.find({ teamId, status: { $ne: 'uninstalled' } }, { _id: 1 }).lean();
    await Promise.all(docs.map((d) => this.writer.forget(d._id, teamId, event)));
    return docs.length;
  }

  /** "Disconnect Slack": the writer uninstalls the app from the workspace (best effort) and forgets the installation. */
  async disconnect(accountId: string): Promise<void> {
    await this.writer.disconnect(accountId);
  }
}

/** The channels the bot can post alerts to: public ones, and private ones it was invited to. */
export async function postableChannels(
  installations: { clientOf(inst: Installation): Promise<WebClient | undefined> },
  inst: Installation,
): Promise<{ id: string; name: string }[]> {
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
