import Router from '@koa/router';
import type { Context } from 'koa';
import { readSignedBody } from './signed-body';
import createError from 'http-errors';
import type { WebClient } from '@slack/web-api';
import type { Models } from '../db/models';
import type { AccountControl } from '../workflow-client/account-control';
import type { Logger } from '../logger';
import { withDeadline } from '../deadline';
import { verifySlackSignature } from '../slack/verify';
import type { SlackInstallations } from '../slack/installations';
import { runCommand } from '../slack/commands';
import { SLASH_COMMAND } from '../slack/scopes';
import { plainReply, type SlackReply } from '../slack/format';
import { createInteractionHandler, type BlockActionsPayload, type RefreshRecord } from '../slack/interactions';

/** Where Slack sends the `/jobber` command, button clicks and Events API callbacks (slack-app-manifest.yml names them). */
export const SLACK_PATHS = { commands: '/slack/commands', interactions: '/slack/interactions', events: '/slack/events' } as const;

export interface SlackRouterDeps {
  models: Models;
  slack: WebClient;
  signingSecret: string;
  control: Pick<AccountControl, 'syncNow'>;
  /** Re-fetches one record from Jobber into MongoDB, for the Refresh button. Without it Refresh re-renders what MongoDB has. */
  refreshRecord?: RefreshRecord;
  logger: Logger;
  now?: () => Date;
  /** IANA zone that `/jobber jobs today` means; default UTC. */
  timeZone?: string;
  /** A command not answered by then gets "still working" (Slack stops waiting at 3 s). */
  commandDeadlineMs?: number;
  /** Businesses' own workspaces: commands and buttons find their accounts (and token) by team_id. */
  installations?: Pick<SlackInstallations, 'accountsOfWorkspace' | 'clientOfTeam' | 'forgetTeam'>;
  /** Where a workspace with no installation is sent (the Manage App page). */
  installUrl?: string;
}

export type SlackRouter = Router & {
  /** Waits for the Slack updates started after answering (graceful shutdown, tests). */
  drain(): Promise<void>;
};

// Slack's command posts are a few hundred bytes; a click carries the whole message it came from.
const COMMAND_BODY_LIMIT = '16kb';
const INTERACTION_BODY_LIMIT = '128kb';
// app_uninstalled and tokens_revoked are small; other events are not subscribed to.
const EVENT_BODY_LIMIT = '64kb';

/**
 * `/jobber` slash commands and Block Kit interactions. Every request is authenticated with Slack's
 * signing secret before its body is looked at; answers come from MongoDB only, within Slack's
 * 3 seconds.
 */
export function createSlackRouter(deps: SlackRouterDeps): SlackRouter {
  const now = deps.now ?? (() => new Date());
  const timeZone = deps.timeZone ?? 'UTC';
  // An unknown zone throws here, at start-up, not on the first `jobs today`.
  new Intl.DateTimeFormat('en-US', { timeZone });
  const deadlineMs = deps.commandDeadlineMs ?? 2_500;
  const accountsOfWorkspace = deps.installations && ((teamId: string) => deps.installations!.accountsOfWorkspace(teamId));
  const clientOfTeam = deps.installations && ((teamId: string) => deps.installations!.clientOfTeam(teamId));
  const interactions = createInteractionHandler({ ...deps, now, accountsOfWorkspace, clientOfTeam });
  const router = new Router();

  /** The verified form fields; 401 (nothing else happens) when Slack did not sign this body. */
  const readVerified = async (ctx: Context, limit: string): Promise<URLSearchParams> => {
    const raw = await readSignedRaw(ctx, limit);
    if (!ctx.is('application/x-www-form-urlencoded')) throw createError(415, 'expected application/x-www-form-urlencoded');
    return new URLSearchParams(raw.toString('utf8'));
  };

  /** The raw body, once Slack's signature over it holds. */
  const readSignedRaw = async (ctx: Context, limit: string): Promise<Buffer> => {
    const log = ctx.state.log as Logger;
    return readSignedBody(ctx, {
      limit,
      verify: (rawBody) =>
        verifySlackSignature({
          rawBody,
          timestamp: ctx.get('x-slack-request-timestamp') || undefined,
          signature: ctx.get('x-slack-signature') || undefined,
          signingSecret: deps.signingSecret,
          now: now(),
        }),
      tooLargeMessage: 'body too large',
      onRefused: (refusal) => {
        if (refusal.reason === 'signature')
          log.warn({ reason: refusal.problem, path: ctx.path, bytes: refusal.bytes, ip: ctx.ip }, 'slack request rejected: bad signature');
      },
    });
  };

  // Events API: the URL check, and a workspace that removed the app or revoked its tokens.
  router.post(SLACK_PATHS.events, async (ctx) => {
    const log = ctx.state.log as Logger;
    const raw = await readSignedRaw(ctx, EVENT_BODY_LIMIT);
    if (!ctx.is('application/json')) throw createError(415, 'expected application/json');
    let body: { type?: unknown; challenge?: unknown; team_id?: unknown; event?: { type?: unknown; tokens?: { bot?: unknown } } };
    try {
      body = JSON.parse(raw.toString('utf8')) as typeof body;
    } catch {
      throw createError(400, 'body is not JSON');
    }
    if (body?.type === 'url_verification') {
      if (typeof body.challenge !== 'string') throw createError(400, 'url_verification without a challenge');
      ctx.body = { challenge: body.challenge };
      return;
    }
    const eventType = body?.event?.type;
    const teamId = typeof body?.team_id === 'string' ? body.team_id : undefined;
    if (body?.type !== 'event_callback' || !teamId) throw createError(400, 'expected an event_callback with team_id');
    // tokens_revoked also names user tokens; we hold bot tokens only.
    const botRevoked = eventType === 'tokens_revoked' && Array.isArray(body.event?.tokens?.bot) && body.event.tokens.bot.length > 0;
    if ((eventType === 'app_uninstalled' || botRevoked) && deps.installations) {
      // Each installation's workflow is told (a signal, not waited for): Slack waits 3 s at most.
      const forgotten = await deps.installations.forgetTeam(teamId, eventType === 'app_uninstalled' ? 'app_uninstalled' : 'tokens_revoked');
      log.info({ teamId, eventType, installations: forgotten }, 'slack workspace disconnected');
    } else {
      log.info({ teamId, eventType }, 'slack event ignored');
    }
    ctx.status = 200;
  });

  router.post(SLACK_PATHS.commands, async (ctx) => {
    const log = ctx.state.log as Logger;
    const form = await readVerified(ctx, COMMAND_BODY_LIMIT);
    if (form.get('ssl_check') === '1') {
      // Slack checking our certificate: nothing to run.
      ctx.status = 200;
      return;
    }
    const teamId = form.get('team_id');
    const userId = form.get('user_id');
    if (!teamId || !userId) throw createError(400, 'team_id and user_id are required');
    const text = form.get('text') ?? '';
    // The subcommand only: the rest may be a client's name.
    const subcommand = text.trim().split(/\s+/)[0]?.toLowerCase().slice(0, 20) ?? '';
    log.info({ teamId, userId, subcommand }, 'slack command');

    const work = runCommand(
      { models: deps.models, control: deps.control, logger: log, now, timeZone, accountsOfWorkspace, installUrl: deps.installUrl },
      { teamId, userId, channelId: form.get('channel_id') ?? undefined, command: form.get('command') ?? SLASH_COMMAND, text },
    );
    let answer: SlackReply | undefined;
    try {
      answer = await withDeadline(work, deadlineMs);
    } catch (err) {
      log.error({ err, subcommand }, 'slack command failed');
      answer = plainReply(`Something went wrong answering that. It is logged (reference ${ctx.state.requestId as string}); try again in a minute.`);
    }
    if (!answer) {
      work.catch((err: unknown) => log.error({ err, subcommand }, 'slack command failed after its deadline'));
      log.warn({ subcommand, deadlineMs }, 'slack command too slow: answered "try again"');
      answer = plainReply('Jobber Sync is slow to answer right now. Try again in a moment.');
    }
    ctx.status = 200;
    ctx.body = answer;
  });

  router.post(SLACK_PATHS.interactions, async (ctx) => {
    const log = ctx.state.log as Logger;
    const form = await readVerified(ctx, INTERACTION_BODY_LIMIT);
    let payload: unknown;
    try {
      payload = JSON.parse(form.get('payload') ?? '');
    } catch {
      throw createError(400, 'payload is not JSON');
    }
    const type = (payload as { type?: unknown } | null)?.type;
    if (type !== 'block_actions') {
      log.info({ type }, 'slack interaction ignored: unhandled type');
      ctx.status = 200;
      return;
    }
    const p = payload as BlockActionsPayload;
    if (typeof p.user?.id !== 'string' || !Array.isArray(p.actions)) throw createError(400, 'block_actions payload without user or actions');
    // Decides inline (a conditional MongoDB write); chat.update and Jobber calls follow the answer.
    await interactions.handle(p, log);
    ctx.status = 200;
  });

  return Object.assign(router, { drain: () => interactions.drain() });
}
