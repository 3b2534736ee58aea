import type { Schema } from 'mongoose';
import type { Models } from '../db/models';
import type * as Alerts from '../slack/alerts';
import type { AlertFact } from '../slack/alert-rules';

/** What every record Jobber returns carries; updatedAt orders our writes. */
export interface JobberRecordBase {
  id: string;
  jobberWebUri?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
}

/**
 * The facts a type can alert on, named `<kind>-<what happened>`. Stable: they key alerts
 * (`<fact>/<itemId>`) and the per-account alert rules.
 */
export type FactName = AlertFact; // one list, with the alert rules (src/slack/alert-rules.ts)

/** What a fact's message builder may use: the models, and the Slack formatting of src/slack/alerts.ts. */
export interface FactContext {
  models: Models;
  alerts: typeof Alerts;
}

export interface FactMessage {
  message: Alerts.AlertMessage;
  record: { deletedAt?: Date | null; syncedAt?: Date | null };
}

export interface FactDeclaration<R> {
  name: FactName;
  /** The alert step's summary in the Web UI, `{item}` standing for e.g. "job 123" (ids only). */
  summary: string;
  /** Whether a fetch made for this topic action (CREATE, UPDATE, APPROVED, …) that returned `record` reports the fact. */
  due(action: string, record: R): boolean;
  /**
   * The Slack message from what MongoDB holds now; undefined when the record is not synced. A fact
   * declared without one is never posted.
   */
  message?(ctx: FactContext, itemId: string): Promise<FactMessage | undefined>;
}

/**
 * One Jobber type: everything the service needs to fetch, store, backfill, reconcile and alert on
 * it. `kind` is its webhook topics' prefix in lower case (CLIENT_UPDATE → client), so workflows
 * can parse topics without knowing the types (workflows/definitions.ts parseRecordTopic).
 */
export interface RecordType<R extends JobberRecordBase = JobberRecordBase> {
  kind: string;
  /** How people read it (the Manage App counts, summaries). */
  label: { one: string; many: string };
  /** The GraphQL root field and query for one record by id (`{ id }`), and for a page (`{ first, after, filter? }`). */
  query: { field: string; name: string; document: string };
  page: { field: string; name: string; document: string };
  /** Jobber's page query takes `filter: { updatedAt: { after } }`: a reconciliation asks only for changes. */
  pageFilterByUpdatedAt: boolean;
  /**
   * What orders two fetched copies: Jobber's `updatedAt` (the default), or, for a type that has
   * none (visits, properties, payments), when the fetch started: the copy from the later fetch wins.
   */
  orderedBy?: 'updatedAt' | 'fetchedAt';
  /** The mongoose model: its name in Models, its schema with indexes (collection named in the schema). */
  model: RecordModel;
  /** The stored fields of a record, beside the common ones (accountId, createdAt, updatedAt, jobberWebUri). */
  toDocument(record: R): Record<string, unknown>;
  /** Stored fields holding ids of linked records, and the kind they point to. */
  links: Record<string, string>;
  facts: FactDeclaration<R>[];
  /** What `/jobber` can ask: the stored field a name lookup searches, and a one-line summary of a stored document. */
  ask: { searchField?: string; summary(doc: Record<string, unknown>): string };
}

/**
 * A type's model, declared apart from the type so Models can be typed from it (a type's facts
 * read Models: typing Models from the whole type would be circular).
 */
export interface RecordModel<M extends string = string, S extends Schema = Schema> {
  name: M;
  schema: S;
}

export function recordModel<const M extends string, S extends Schema>(name: M, schema: S): RecordModel<M, S> {
  return { name, schema };
}

export function defineRecordType<R extends JobberRecordBase>(type: RecordType<R>): RecordType<R> {
  return type;
}
