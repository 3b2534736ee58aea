import { tsToMicros, type SlackMessage, type SlackState } from './state';
import type { SlackTeam } from './workspaces';

export interface SlackIdentity {
  teamId: string;
  teamName: string;
  botUserId: string;
  botId: string;
  appId: string;
}

type Args = Record<string, unknown>;
/** The workspace (and app) the call's token belongs to. */
export interface CallContext {
  team: SlackTeam;
  appId: string;
  /** The token's scopes; undefined means every scope (the operator's token). */
  scopes?: string[];
}
type Method = (args: Args, call: CallContext) => SlackResult;
export type SlackResult = { ok: true; [key: string]: unknown } | { ok: false; error: string; [key: string]: unknown };

/** Raised inside a method to answer `{ ok: false, error }`. */
class SlackApiError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;

/** Form bodies carry arrays and objects as JSON strings (that is what @slack/web-api sends). */
function jsonArg<T>(value: unknown, error: string): T | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new SlackApiError(error);
  }
}

function blocksArg(args: Args): unknown[] | undefined {
  const blocks = jsonArg<unknown>(args.blocks, 'invalid_blocks');
  if (blocks !== undefined && !Array.isArray(blocks)) throw new SlackApiError('invalid_blocks');
  return blocks as unknown[] | undefined;
}

function metadataArg(args: Args): SlackMessage['metadata'] {
  const metadata = jsonArg<{ event_type?: unknown; event_payload?: unknown }>(args.metadata, 'invalid_metadata_format');
  if (metadata === undefined) return undefined;
  if (typeof metadata.event_type !== 'string' || typeof metadata.event_payload !== 'object' || metadata.event_payload === null) {
    throw new SlackApiError('invalid_metadata_format');
  }
  return { event_type: metadata.event_type, event_payload: metadata.event_payload as Record<string, unknown> };
}

/** The `text` Slack shows when only blocks were sent: it keeps an empty string. */
function requireContent(args: Args): { text: string; blocks?: unknown[] } {
  const blocks = blocksArg(args);
  const text = str(args.text);
  if (text === undefined && !blocks?.length && args.attachments === undefined) throw new SlackApiError('no_text');
  return { text: text ?? '', blocks };
}

function publicMessage(m: SlackMessage, includeMetadata: boolean): Record<string, unknown> {
  const { channel: _channel, metadata, ...rest } = m;
  return includeMetadata && metadata ? { ...rest, metadata } : rest;
}

/** What a bot can see of a channel in its workspace: private ones only when invited. */
const visible = (c: SlackTeam['channels'][number]) => !c.isPrivate || c.botIsMember;

export function createMethods(state: SlackState): Record<string, Method> {
  /** The channel's id in the caller's workspace; a channel of another workspace is not found. */
  const channelOf = (args: Args, { team, scopes }: CallContext, options: { posting?: boolean } = {}): string => {
    const channel = str(args.channel);
    if (!channel) throw new SlackApiError('channel_not_found');
    if (team.anyChannel) return state.channelId(channel);
    const found = team.channels.find((c) => c.id === channel || `#${c.name}` === channel || c.name === channel);
    if (!found || !visible(found)) throw new SlackApiError('channel_not_found');
    if (options.posting && found.isArchived) throw new SlackApiError('is_archived');
    // A bot posts where it was invited, or in any public channel with chat:write.public.
    if (options.posting && !found.botIsMember && !(scopes?.includes('chat:write.public') ?? true)) throw new SlackApiError('not_in_channel');
    return found.id;
  };
  const identityOf = ({ team, appId }: CallContext): SlackIdentity => ({
    teamId: team.id,
    teamName: team.name,
    botUserId: team.botUserId,
    botId: team.botId,
    appId,
  });
  const ofTeam = (m: SlackMessage, { team }: CallContext) => m.team === team.id;

  return {
    'auth.test': (_args, call) => {
      const identity = identityOf(call);
      return {
        ok: true,
        url: 'https://sandbox.slack.com/',
        team: identity.teamName,
        user: 'sandbox-bot',
        team_id: identity.teamId,
        user_id: identity.botUserId,
        bot_id: identity.botId,
        is_enterprise_install: false,
      };
    },

    'chat.postMessage': (args, call) => {
      const identity = identityOf(call);
      const channel = channelOf(args, call, { posting: true });
      const { text, blocks } = requireContent(args);
      const message: SlackMessage = {
        type: 'message',
        channel,
        ts: state.nextTs(),
        text,
        user: identity.botUserId,
        bot_id: identity.botId,
        app_id: identity.appId,
        team: identity.teamId,
        ...(blocks ? { blocks } : {}),
      };
      const metadata = metadataArg(args);
      if (metadata) message.metadata = metadata;
      const threadTs = str(args.thread_ts);
      if (threadTs) message.thread_ts = threadTs;
      state.messages.push(message);
      return { ok: true, channel, ts: message.ts, message: publicMessage(message, true) };
    },

    'chat.update': (args, call) => {
      const identity = identityOf(call);
      const channel = channelOf(args, call);
      const ts = str(args.ts);
      const message = state.messages.find((m) => ofTeam(m, call) && m.channel === channel && m.ts === ts);
      if (!message) throw new SlackApiError('message_not_found');
      if (message.bot_id !== identity.botId) throw new SlackApiError('cant_update_message');
      const blocks = blocksArg(args);
      const text = str(args.text);
      if (text === undefined && blocks === undefined && args.metadata === undefined) throw new SlackApiError('no_text');
      if (text !== undefined) message.text = text;
      if (blocks !== undefined) message.blocks = blocks;
      const metadata = metadataArg(args);
      if (metadata) message.metadata = metadata;
      message.edited = { user: identity.botUserId, ts: state.nextTs() };
      return { ok: true, channel, ts: message.ts, text: message.text, message: publicMessage(message, true) };
    },

    'chat.postEphemeral': (args, call) => {
      const channel = channelOf(args, call, { posting: true });
      const user = str(args.user);
      if (!user) throw new SlackApiError('user_not_found');
      const { text, blocks } = requireContent(args);
      const message_ts = state.nextTs();
      state.ephemeral.push({ channel, user, message_ts, text, ...(blocks ? { blocks } : {}) });
      return { ok: true, message_ts };
    },

    'conversations.history': (args, call) => {
      const channel = channelOf(args, call);
      const limit = Math.min(Math.max(Number(str(args.limit) ?? 100) || 100, 1), 999);
      const inclusive = bool(args.inclusive);
      const oldest = str(args.oldest);
      const latest = str(args.latest);
      const offset = str(args.cursor)
        ? Number(
            Buffer.from(str(args.cursor)!, 'base64')
              .toString('utf8')
              .replace(/^offset:/, ''),
          )
        : 0;
      if (!Number.isInteger(offset) || offset < 0) throw new SlackApiError('invalid_cursor');
      const matching = state.messages
        .filter((m) => ofTeam(m, call) && m.channel === channel && (!m.thread_ts || m.thread_ts === m.ts))
        .filter((m) => {
          const t = tsToMicros(m.ts);
          if (oldest && (inclusive ? t < tsToMicros(oldest) : t <= tsToMicros(oldest))) return false;
          if (latest && (inclusive ? t > tsToMicros(latest) : t >= tsToMicros(latest))) return false;
          return true;
        })
        .sort((a, b) => tsToMicros(b.ts) - tsToMicros(a.ts));
      const page = matching.slice(offset, offset + limit);
      const hasMore = offset + limit < matching.length;
      const includeMetadata = bool(args.include_all_metadata);
      return {
        ok: true,
        messages: page.map((m) => publicMessage(m, includeMetadata)),
        has_more: hasMore,
        pin_count: 0,
        response_metadata: { next_cursor: hasMore ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '' },
      };
    },

    'conversations.list': (args, { team }) => {
      const types = (str(args.types) ?? 'public_channel').split(',').map((t) => t.trim());
      for (const t of types) if (!['public_channel', 'private_channel', 'mpim', 'im'].includes(t)) throw new SlackApiError('invalid_types');
      const limit = Math.min(Math.max(Number(str(args.limit) ?? 100) || 100, 1), 1000);
      const offset = str(args.cursor)
        ? Number(
            Buffer.from(str(args.cursor)!, 'base64')
              .toString('utf8')
              .replace(/^offset:/, ''),
          )
        : 0;
      if (!Number.isInteger(offset) || offset < 0) throw new SlackApiError('invalid_cursor');
      const excludeArchived = bool(args.exclude_archived);
      // The first workspace accepts any name: it lists the channels it was posted to.
      const all: SlackTeam['channels'] = team.anyChannel ? state.knownChannels().map(([id, name]) => ({ id, name })) : team.channels;
      const matching = all
        .filter(visible)
        .filter((c) => types.includes(c.isPrivate ? 'private_channel' : 'public_channel'))
        .filter((c) => !(excludeArchived && c.isArchived));
      const page = matching.slice(offset, offset + limit);
      const hasMore = offset + limit < matching.length;
      return {
        ok: true,
        channels: page.map((c) => ({
          id: c.id,
          name: c.name,
          is_channel: !c.isPrivate,
          is_group: Boolean(c.isPrivate),
          is_private: Boolean(c.isPrivate),
          is_archived: Boolean(c.isArchived),
          is_member: Boolean(c.botIsMember),
          context_team_id: team.id,
        })),
        response_metadata: { next_cursor: hasMore ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '' },
      };
    },

    'users.info': (args, call) => {
      const identity = identityOf(call);
      const user = str(args.user);
      if (!user || !/^[UW][A-Z0-9]{2,}$/.test(user)) throw new SlackApiError('user_not_found');
      const isBot = user === identity.botUserId;
      const name = isBot ? 'sandbox-bot' : `user-${user.toLowerCase()}`;
      return {
        ok: true,
        user: {
          id: user,
          team_id: identity.teamId,
          name,
          real_name: isBot ? 'Sandbox Bot' : `Sandbox User ${user}`,
          deleted: false,
          is_bot: isBot,
          is_admin: false,
          tz: 'America/Edmonton',
          profile: { real_name: isBot ? 'Sandbox Bot' : `Sandbox User ${user}`, display_name: name },
        },
      };
    },
  };
}

/** Runs a method, turning SlackApiError into `{ ok: false, error }`. */
export function runMethod(fn: Method, args: Args, call: CallContext): SlackResult {
  try {
    return fn(args, call);
  } catch (err) {
    if (err instanceof SlackApiError) return { ok: false, error: err.code };
    throw err;
  }
}
