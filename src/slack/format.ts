import type { KnownBlock } from '@slack/types';

/** What a slash command answers: Block Kit with a plain-text fallback, seen only by the caller. */
export interface SlackReply {
  response_type: 'ephemeral';
  text: string;
  blocks: KnownBlock[];
}

/** Slack mrkdwn treats &, < and > as control characters; everything from Jobber or users goes through this. */
export const escapeMrkdwn = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Slack sends &, < and > in command text HTML-encoded: back to what the user typed. */
export const decodeSlackText = (text: string): string => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** `1 invoice`, `3 invoices`; `many` for irregular plurals (`refreshes`). */
export const counted = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export const truncate = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export const money = (amount: number | null | undefined): string =>
  typeof amount === 'number' ? amount.toLocaleString('en-US', { style: 'currency', currency: 'USD' }) : 'n/a';

/** The plain-text form of a date (UTC); `never` when there is none. */
export const plainDate = (date: Date | null | undefined, withTime = true): string => {
  if (!date) return 'never';
  const iso = new Date(date).toISOString();
  return withTime ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10);
};

/** A date Slack shows in the reader's own time zone, with the UTC text as its fallback. */
export const slackDate = (date: Date | null | undefined, withTime = true): string => {
  if (!date) return 'never';
  const seconds = Math.floor(new Date(date).getTime() / 1000);
  const format = withTime ? '{date_short_pretty} {time}' : '{date_short_pretty}';
  return `<!date^${seconds}^${format}|${plainDate(date, withTime)}>`;
};

const SAFE_URL = /^https?:\/\/[^\s<>|]+$/;

/** `<url|label>` when the url is a plain http(s) link, else just the label (both escaped). */
export const link = (url: string | null | undefined, label: string): string =>
  url && SAFE_URL.test(url) ? `<${escapeMrkdwn(url)}|${escapeMrkdwn(label)}>` : escapeMrkdwn(label);

export const section = (mrkdwn: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, 3000) } });
export const context = (mrkdwn: string): KnownBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(mrkdwn, 3000) }] });

export const reply = (text: string, blocks: KnownBlock[]): SlackReply => ({ response_type: 'ephemeral', text: truncate(text, 3000), blocks });

/** A reply that is one paragraph: the same words as blocks and as fallback. */
export const plainReply = (text: string, mrkdwn = escapeMrkdwn(text)): SlackReply => reply(text, [section(mrkdwn)]);

/** How many items a list shows before "and N more". */
export const LIST_CAP = 10;

export interface ListItem {
  /** mrkdwn, already escaped. */
  mrkdwn: string;
  plain: string;
}

/** A titled list, capped: the first LIST_CAP items, then "and N more" from the total count. */
export function listReply(title: string, items: ListItem[], total: number, empty: string, footer?: string): SlackReply {
  if (items.length === 0) return plainReply(`${title}: ${empty}`, `*${escapeMrkdwn(title)}*\n${escapeMrkdwn(empty)}`);
  const shown = items.slice(0, LIST_CAP);
  const more = Math.max(0, total - shown.length);
  const blocks: KnownBlock[] = [section(`*${escapeMrkdwn(title)}*`), ...shown.map((i) => section(i.mrkdwn))];
  const tail = [more > 0 ? `and ${more} more` : undefined, footer].filter((s): s is string => Boolean(s));
  if (tail.length) blocks.push(context(escapeMrkdwn(tail.join(' · '))));
  const text = [`${title}:`, ...shown.map((i) => `• ${i.plain}`), ...(more > 0 ? [`and ${more} more`] : []), ...(footer ? [footer] : [])].join('\n');
  return reply(text, blocks);
}
