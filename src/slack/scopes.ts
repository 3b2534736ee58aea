/**
 * The bot scopes each Slack Web API method the service calls needs (https://api.slack.com/methods).
 * slack-app-manifest.yml asks for exactly the union over the methods the code calls, plus
 * `commands` for `/jobber`; test/slack/manifest.test.ts checks both against the source.
 */
export const METHOD_SCOPES: Record<string, readonly string[]> = {
  // Post alerts, edit them (Acknowledge, Refresh), answer one user (chat:write covers all three).
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  // Finding an alert posted just before a crash. The alert channel may be private
  // (SLACK_ALERT_CHANNEL or a connection's own channel): groups:history covers that, and like
  // channels:history it reads only channels the bot was invited to.
  'conversations.history': ['channels:history', 'groups:history'],
  // The channels a business may pick for its alerts (public, and private ones the bot was invited to).
  'conversations.list': ['channels:read', 'groups:read'],
  'auth.test': [],
  // "Disconnect Slack" (app credentials, no scope) and the OAuth v2 code exchange.
  'apps.uninstall': [],
  'oauth.v2.access': [],
};

/** Scopes a feature needs beyond the methods it calls. */
export const FEATURE_SCOPES = {
  slashCommand: ['commands'],
  // Alerts go to the public channel the business picked without inviting the bot first.
  publicChannels: ['chat:write.public'],
} as const;

/** The slash command the manifest declares and the router answers. */
export const SLASH_COMMAND = '/jobber';

export function scopesFor(methods: Iterable<string>): string[] {
  const scopes = new Set<string>();
  for (const method of methods) {
    const needed = METHOD_SCOPES[method];
    if (!needed) throw new Error(`no scope known for Slack method ${method}: add it to METHOD_SCOPES`);
    needed.forEach((s) => scopes.add(s));
  }
  return [...scopes].sort();
}

/** The bot scopes "Add to Slack" asks for: exactly the manifest's (test/slack/manifest.test.ts). */
export const BOT_SCOPES: readonly string[] = [
  ...new Set([...Object.values(METHOD_SCOPES).flat(), ...FEATURE_SCOPES.slashCommand, ...FEATURE_SCOPES.publicChannels]),
].sort();
