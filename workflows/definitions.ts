/**
 * What the ingress, the worker and the workflows share: ids, search attributes, messages and
 * input types. Imports only @temporalio/common so it is safe inside the workflow sandbox.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

export const DEFAULT_TASK_QUEUE = 'jobber-sync';

/** Custom search attributes, registered on the server so the Web UI can filter by them. */
export const SEARCH_ATTRIBUTES = {
  accountId: defineSearchAttributeKey('JobberAccountId', 'KEYWORD'),
  topic: defineSearchAttributeKey('JobberTopic', 'KEYWORD'),
  itemId: defineSearchAttributeKey('JobberItemId', 'KEYWORD'),
} as const;

/** The `name=Type` pairs for `temporal server start-dev --search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS = Object.values(SEARCH_ATTRIBUTES).map((key) => `${key.name}=Keyword`);

/** One webhook event as Jobber described it; (accountId, topic, itemId, occurredAt) is its natural key. */
export interface JobberEvent {
  topic: string;
  accountId: string;
  itemId: string;
  /** ISO 8601 in UTC, normalised by the ingress so resends with the same instant collide. */
  occurredAt: string;
  appId?: string;
}

const GID = /^gid:\/\/Jobber\/[A-Za-z]+\/(\d+)$/;

/** `gid://Jobber/Client/123` (base64) reads as `123`; anything else is kept as it came. */
function readableId(encoded: string): string {
  try {
    const match = GID.exec(atob(encoded));
    if (match) return match[1]!;
  } catch {
    // not base64: keep the raw id
  }
  return encoded;
}

/** The workflow id of an event: deterministic, so a resent webhook maps to the same workflow. */
export function eventWorkflowId(event: JobberEvent): string {
  return `jobber-event/${readableId(event.accountId)}/${event.topic}/${readableId(event.itemId)}/${event.occurredAt}`;
}

/** The one long-running workflow of a connected account. */
export function accountWorkflowId(accountId: string): string {
  return `jobber-account/${readableId(accountId)}`;
}

export type EventOutcome =
  | { status: 'synced'; kind: RecordKind; recordUpdatedAt: string; applied: boolean; alerts: string[] }
  | { status: 'deleted'; kind: RecordKind; applied: boolean }
  | { status: 'gone'; kind: RecordKind }
  | { status: 'recorded'; reason: string }
  | { status: 'disconnected' };

export type RecordKind = 'client' | 'job' | 'invoice';
