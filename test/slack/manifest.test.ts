import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { parse } from 'yaml';
import { WebClient } from '@slack/web-api';
import type { Models } from '../../src/db/models';
import { createSlackRouter, SLACK_PATHS } from '../../src/ingress/slack-routes';
import { helpReply } from '../../src/slack/commands/help';
import { BOT_SCOPES, FEATURE_SCOPES, METHOD_SCOPES, scopesFor, SLASH_COMMAND } from '../../src/slack/scopes';
import { SLACK_OAUTH_CALLBACK } from '../../src/slack/installations';

const ROOT = path.resolve(__dirname, '../..');

interface Manifest {
  display_information: { description: string };
  features: { slash_commands: { command: string; url: string; description: string; usage_hint?: string }[]; bot_user: unknown };
  oauth_config: { redirect_urls?: string[]; scopes: { bot: string[]; user?: string[] } };
  settings: {
    interactivity: { is_enabled: boolean; request_url: string };
    event_subscriptions?: { request_url: string; bot_events: string[] };
    org_deploy_enabled: boolean;
    socket_mode_enabled: boolean;
    token_rotation_enabled: boolean;
  };
}

const manifest = parse(readFileSync(path.join(ROOT, 'slack-app-manifest.yml'), 'utf8')) as Manifest;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'sandbox' ? [] : sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

// Slack Web API families; `.chat.update(` and the like in product code (the stand-in excluded).
const FAMILIES =
  'admin|apps|auth|bookmarks|bots|calls|chat|conversations|dnd|emoji|files|pins|reactions|reminders|search|stars|team|usergroups|users|views|workflows';
const CALL = new RegExp(`\\.(${FAMILIES})\\.(\\w+(?:\\.\\w+)?)\\s*\\(`, 'g');
const API_CALL = /apiCall\(\s*['"]([\w.]+)['"]/g;

/** Every Slack Web API method the service's code calls. */
function slackMethodsCalled(): Set<string> {
  const methods = new Set<string>();
  for (const file of [...sourceFiles(path.join(ROOT, 'src')), ...sourceFiles(path.join(ROOT, 'activities'))]) {
    const text = readFileSync(file, 'utf8');
    // Only files that hold a Slack client can call Slack.
    if (!/WebClient/.test(text)) continue;
    for (const m of text.matchAll(CALL)) methods.add(`${m[1]}.${m[2]}`);
    for (const m of text.matchAll(API_CALL)) methods.add(m[1]!);
  }
  return methods;
}

describe('slack-app-manifest.yml', () => {
  it('asks for exactly the bot scopes the code needs, and no user scopes', () => {
    const methods = slackMethodsCalled();
    // The scan finds what the alerts and the interactions really call.
    expect([...methods].sort()).toEqual(expect.arrayContaining(['chat.postEphemeral', 'chat.postMessage', 'chat.update', 'conversations.history']));
    const needed = new Set([...scopesFor(methods), ...FEATURE_SCOPES.slashCommand, ...FEATURE_SCOPES.publicChannels]);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
    // "Add to Slack" asks for exactly these.
    expect([...BOT_SCOPES].sort()).toEqual([...needed].sort());
    expect(manifest.oauth_config.scopes.user ?? []).toEqual([]);
    // No scope is listed for a method nobody calls any more.
    const unused = Object.keys(METHOD_SCOPES).filter((m) => !methods.has(m) && METHOD_SCOPES[m]!.length > 0);
    expect(unused).toEqual([]);
  });

  it("/jobber's usage hint names every subcommand the help lists", () => {
    const [command] = manifest.features.slash_commands;
    const subcommands = [...new Set([...helpReply('/jobber').text.matchAll(/^\/jobber (\w+)/gm)].map((m) => m[1]!))];
    expect(subcommands).toEqual(expect.arrayContaining(['requests', 'quotes', 'visits', 'payments', 'jobs', 'invoices', 'client', 'status', 'sync', 'help']));
    for (const sub of subcommands) expect(command!.usage_hint).toMatch(new RegExp(`\\b${sub}\\b`));
    // Slack's limits for a slash command and the app's short description.
    expect(command!.usage_hint!.length).toBeLessThanOrEqual(1000);
    expect(command!.description.length).toBeLessThanOrEqual(2000);
    expect(manifest.display_information.description.length).toBeLessThanOrEqual(140);
  });

  it('declares /jobber and interactivity at the routes the Slack router serves', () => {
    expect(manifest.features.slash_commands).toHaveLength(1);
    const [command] = manifest.features.slash_commands;
    expect(command!.command).toBe(SLASH_COMMAND);
    expect(new URL(command!.url)).toMatchObject({ protocol: 'https:', host: 'your_public_url', pathname: SLACK_PATHS.commands });
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(new URL(manifest.settings.interactivity.request_url)).toMatchObject({ protocol: 'https:', pathname: SLACK_PATHS.interactions });
    expect(manifest.settings.org_deploy_enabled).toBe(false);
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.features.bot_user).toBeDefined();

    const router = createSlackRouter({
      models: {} as Models,
      slack: new WebClient('xoxb-unused'),
      signingSecret: 'unused',
      control: { syncNow: async () => undefined },
      logger: pino({ level: 'silent' }),
    });
    // A distributed app: Slack sends installers back to the callback, and tells us of uninstalls.
    expect(manifest.oauth_config.redirect_urls?.map((u) => new URL(u).pathname)).toEqual([SLACK_OAUTH_CALLBACK]);
    expect(new URL(manifest.settings.event_subscriptions!.request_url)).toMatchObject({ protocol: 'https:', pathname: SLACK_PATHS.events });
    expect([...manifest.settings.event_subscriptions!.bot_events].sort()).toEqual(['app_uninstalled', 'tokens_revoked']);

    const served = router.stack.flatMap((layer) => layer.methods.filter((m) => m === 'POST').map(() => layer.path));
    expect(served.sort()).toEqual([SLACK_PATHS.commands, SLACK_PATHS.interactions, SLACK_PATHS.events].sort());
  });
});
