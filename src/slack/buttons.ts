import type { KnownBlock } from '@slack/types';

/**
 * The alert buttons' action ids. A leaf module (types only): src/slack/alerts.ts can import
 * withRefreshButton without a cycle through the interaction handler, which imports alerts.ts.
 */
export const ACTION_IDS = { acknowledge: 'acknowledge', refresh: 'refresh', openInJobber: 'open_in_jobber' } as const;

type ActionsBlock = Extract<KnownBlock, { type: 'actions' }>;
type ActionElement = ActionsBlock['elements'][number];
export const actionIdOf = (e: ActionElement): string | undefined => (e as { action_id?: string }).action_id;

/**
 * Adds a "Refresh" button (action_id `refresh`, value = alert key) to an alert's actions block,
 * or a new actions block when there is none. Idempotent; returns new blocks.
 */
export function withRefreshButton(blocks: KnownBlock[], key: string): KnownBlock[] {
  const button: ActionElement = { type: 'button', text: { type: 'plain_text', text: 'Refresh' }, action_id: ACTION_IDS.refresh, value: key };
  const index = blocks.map((b) => b.type).lastIndexOf('actions');
  if (index < 0) return [...blocks, { type: 'actions', elements: [button] }];
  const actions = blocks[index] as ActionsBlock;
  if (actions.elements.some((e) => actionIdOf(e) === ACTION_IDS.refresh)) return [...blocks];
  return blocks.map((b, i) => (i === index ? { ...actions, elements: [...actions.elements, button] } : b));
}
