import { randomBytes } from 'node:crypto';

/** A channel of a stand-in workspace. */
export interface SlackChannel {
  id: string;
  name: string;
  isPrivate?: boolean;
  isArchived?: boolean;
  /** Whether the bot was invited: private channels are invisible to it otherwise. */
  botIsMember?: boolean;
}

/** A Slack workspace (team) of the stand-in, with the bot user the app gets there. */
export interface SlackTeam {
  id: string;
  name: string;
  botUserId: string;
  botId: string;
  channels: SlackChannel[];
  /**
   * The stand-in's first workspace, as before OAuth existed: any channel name is accepted and
   * gets a made-up id (the operator's alert channel, whatever the tests call it).
   */
  anyChannel?: boolean;
}

/** A Slack app (client id and secret) registered with the stand-in. */
export interface SlackApp {
  appId: string;
  clientId: string;
  clientSecret: string;
  /** Token rotation on: bot tokens expire and come with a refresh token. */
  tokenRotation?: boolean;
  /** The redirect URLs set up for the app; when given, `redirect_uri` must start with one. */
  redirectUrls?: string[];
}

export interface IssuedToken {
  teamId: string;
  appId: string;
  /** The scopes granted; absent for the operator's token of the first workspace (all of them). */
  scopes?: string[];
  /** Epoch ms; absent when the token does not expire (no rotation). */
  expiresAt?: number;
  revoked?: boolean;
}

interface AuthCode {
  clientId: string;
  redirectUri?: string;
  teamId: string;
  scopes: string[];
  userId: string;
  expiresAt: number;
  used: boolean;
}

/** Slack's authorization codes are short-lived (10 minutes) and single-use. */
const CODE_LIFETIME_MS = 10 * 60_000;
/** With token rotation on, Slack's bot tokens live 12 hours. */
export const ROTATED_TOKEN_LIFETIME_S = 12 * 3600;

const random = (bytes = 18) => randomBytes(bytes).toString('hex');

/** An `{ ok: false, error }` of oauth.v2.access / apps.uninstall. */
export class OAuthApiError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** The workspaces, apps, authorization codes and tokens of the stand-in: one OAuth v2 server. */
export class Workspaces {
  readonly teams = new Map<string, SlackTeam>();
  readonly apps = new Map<string, SlackApp>();
  readonly tokens = new Map<string, IssuedToken>();
  private readonly refreshTokens = new Map<string, { teamId: string; appId: string; scopes: string[]; used: boolean }>();
  private readonly codes = new Map<string, AuthCode>();

  constructor(private readonly nowMs: () => number) {}

  addTeam(team: Omit<SlackTeam, 'botUserId' | 'botId' | 'channels'> & Partial<Pick<SlackTeam, 'botUserId' | 'botId' | 'channels'>>): SlackTeam {
    if (!/^T[A-Z0-9]{2,}$/.test(team.id)) throw new Error(`"${team.id}" is not a Slack team id (like T0ACME)`);
    if (this.teams.has(team.id)) throw new Error(`team ${team.id} exists`);
    const suffix = team.id.slice(1);
    const full: SlackTeam = {
      botUserId: `U${suffix}BOT`,
      botId: `B${suffix}`,
      channels: [
        { id: `C${suffix}GEN`, name: 'general' },
        { id: `C${suffix}ALR`, name: 'alerts' },
      ],
      ...team,
    };
    this.teams.set(full.id, full);
    return full;
  }

  addApp(app: SlackApp): SlackApp {
    this.apps.set(app.clientId, app);
    return app;
  }

  appById(appId: string): SlackApp | undefined {
    return [...this.apps.values()].find((a) => a.appId === appId);
  }

  /** The app whose credentials these are; throws Slack's answer otherwise. */
  authenticateApp(clientId: string | undefined, clientSecret: string | undefined): SlackApp {
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app) throw new OAuthApiError('invalid_client_id');
    if (clientSecret !== app.clientSecret) throw new OAuthApiError('bad_client_secret');
    return app;
  }

  /** Why an authorize request is refused (shown on Slack's error page), or undefined. */
  authorizeProblem(clientId: string | undefined, redirectUri: string | undefined, scope: string | undefined): string | undefined {
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app) return 'invalid_client_id';
    if (!scope?.trim()) return 'invalid_scope';
    if (redirectUri !== undefined) {
      let url: URL;
      try {
        url = new URL(redirectUri);
      } catch {
        return 'bad_redirect_uri';
      }
      if (!['http:', 'https:'].includes(url.protocol)) return 'bad_redirect_uri';
      if (app.redirectUrls && !app.redirectUrls.some((allowed) => redirectUri.startsWith(allowed))) return 'bad_redirect_uri';
    } else if (!app.redirectUrls?.length) return 'bad_redirect_uri';
    return undefined;
  }

  /** The user allowed the install into `teamId`: a code bound to the app and the redirect URI. */
  issueCode(input: { clientId: string; redirectUri?: string; teamId: string; scopes: string[]; userId: string }): string {
    if (!this.teams.has(input.teamId)) throw new OAuthApiError('team_not_found');
    const code = `${input.teamId}.${random()}`;
    this.codes.set(code, { ...input, expiresAt: this.nowMs() + CODE_LIFETIME_MS, used: false });
    return code;
  }

  /** oauth.v2.access with a code: one bot token per exchange (Slack issues a new one each install). */
  exchangeCode(app: SlackApp, code: string | undefined, redirectUri: string | undefined): Record<string, unknown> {
    const grant = code ? this.codes.get(code) : undefined;
    // A used, expired or foreign code is as unknown as a made-up one.
    if (!grant || grant.used || grant.expiresAt <= this.nowMs() || grant.clientId !== app.clientId) throw new OAuthApiError('invalid_code');
    // Slack requires the same redirect_uri as the authorize request, when it had one.
    if (grant.redirectUri !== undefined && grant.redirectUri !== redirectUri) throw new OAuthApiError('bad_redirect_uri');
    grant.used = true;
    const team = this.teams.get(grant.teamId)!;
    return {
      ok: true,
      app_id: app.appId,
      authed_user: { id: grant.userId },
      scope: grant.scopes.join(','),
      token_type: 'bot',
      bot_user_id: team.botUserId,
      team: { id: team.id, name: team.name },
      enterprise: null,
      is_enterprise_install: false,
      ...this.issueBotToken(app, team.id, grant.scopes),
    };
  }

  /** oauth.v2.access with grant_type=refresh_token: a new token pair; the refresh token is spent. */
  refresh(app: SlackApp, refreshToken: string | undefined): Record<string, unknown> {
    const known = refreshToken ? this.refreshTokens.get(refreshToken) : undefined;
    if (!known || known.used || known.appId !== app.appId) throw new OAuthApiError('invalid_refresh_token');
    known.used = true;
    const team = this.teams.get(known.teamId)!;
    return {
      ok: true,
      app_id: app.appId,
      token_type: 'bot',
      bot_user_id: team.botUserId,
      scope: known.scopes.join(','),
      team: { id: team.id, name: team.name },
      ...this.issueBotToken(app, team.id, known.scopes),
    };
  }

  private issueBotToken(app: SlackApp, teamId: string, scopes: string[]): Record<string, unknown> {
    if (!app.tokenRotation) {
      const token = `xoxb-${teamId}-${random()}`;
      this.tokens.set(token, { teamId, appId: app.appId, scopes });
      return { access_token: token };
    }
    const token = `xoxe.xoxb-${teamId}-${random()}`;
    const refreshToken = `xoxe-1-${teamId}-${random()}`;
    this.tokens.set(token, { teamId, appId: app.appId, scopes, expiresAt: this.nowMs() + ROTATED_TOKEN_LIFETIME_S * 1000 });
    this.refreshTokens.set(refreshToken, { teamId, appId: app.appId, scopes, used: false });
    return { access_token: token, refresh_token: refreshToken, expires_in: ROTATED_TOKEN_LIFETIME_S };
  }

  /** A token the Web API accepts, or Slack's error for it. */
  check(token: string): { team: SlackTeam; issued: IssuedToken } | { error: string } {
    const issued = this.tokens.get(token);
    if (!issued) return { error: 'invalid_auth' };
    if (issued.revoked) return { error: 'token_revoked' };
    if (issued.expiresAt !== undefined && issued.expiresAt <= this.nowMs()) return { error: 'token_expired' };
    return { team: this.teams.get(issued.teamId)!, issued };
  }

  /** Uninstalls the app from the team: every token it holds there stops working. */
  uninstall(appId: string, teamId: string): number {
    let revoked = 0;
    for (const issued of this.tokens.values()) {
      if (issued.appId === appId && issued.teamId === teamId && !issued.revoked) {
        issued.revoked = true;
        revoked += 1;
      }
    }
    for (const r of this.refreshTokens.values()) if (r.appId === appId && r.teamId === teamId) r.used = true;
    return revoked;
  }
}
