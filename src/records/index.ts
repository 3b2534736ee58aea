/**
 * The record-type registry: every Jobber type the service syncs, one module each under types/.
 * Activities, backfill, reconciliation, the models and the Manage App read it; workflows never
 * import it (they parse topics generically and ask activities, see workflows/definitions.ts).
 * Adding a type: docs/ARCHITECTURE.md, "Adding a Jobber type".
 */
import type { Connection, InferSchemaType, Model } from 'mongoose';
import type { FactDeclaration, FactName, JobberRecordBase, RecordType } from './record-type';
import { client, clientModel } from './types/client';
import { job, jobModel } from './types/job';
import { invoice, invoiceModel } from './types/invoice';
import { request, requestModel } from './types/request';
import { quote, quoteModel } from './types/quote';
import { visit, visitModel } from './types/visit';
import { property, propertyModel } from './types/property';
import { payment, paymentModel } from './types/payment';

export type { FactContext, FactDeclaration, FactMessage, FactName, JobberRecordBase, RecordType } from './record-type';

/** In backfill order: a record's links point to types earlier in the list where they can. */
export const RECORD_TYPES: RecordType[] = [client, property, job, invoice, request, quote, visit, payment] as RecordType[];

/** Their models, listed apart so Models is typed per type (see RecordModel). */
const RECORD_MODELS = [clientModel, jobModel, invoiceModel, requestModel, quoteModel, visitModel, propertyModel, paymentModel] as const;

/** One typed mongoose model per type, under its model name (models.Client, models.Job, …). */
export type RecordModels = { [T in (typeof RECORD_MODELS)[number] as T['name']]: Model<InferSchemaType<T['schema']>> };

export function bindRecordModels(connection: Connection): RecordModels {
  return Object.fromEntries(RECORD_MODELS.map((m) => [m.name, connection.model(m.name, m.schema)])) as unknown as RecordModels;
}

const BY_KIND = new Map<string, RecordType>(RECORD_TYPES.map((t) => [t.kind, t]));

/** The type of a kind (a topic's prefix in lower case), or undefined when the service does not sync it. */
export function recordType(kind: string): RecordType | undefined {
  return BY_KIND.get(kind);
}

export const RECORD_KINDS: string[] = RECORD_TYPES.map((t) => t.kind);

/** The facts due after a fetch for `action` returned `record`: only those with a message builder post. */
export function factsDue(type: RecordType, action: string, record: JobberRecordBase): { name: FactName; summary: string }[] {
  return type.facts.filter((f) => f.message && f.due(action, record)).map((f) => ({ name: f.name, summary: f.summary }));
}

/** A fact's declaration and the type that declares it. */
export function factByName(name: string): { type: RecordType; fact: FactDeclaration<JobberRecordBase> } | undefined {
  for (const type of BY_KIND.values()) {
    const fact = type.facts.find((f) => f.name === name);
    if (fact) return { type, fact };
  }
  return undefined;
}

/** Every GraphQL document the types send, by name (validated against Jobber's schema in tests). */
export const RECORD_DOCUMENTS: Record<string, string> = Object.fromEntries(
  RECORD_TYPES.flatMap((t) => [
    [t.query.name, t.query.document],
    [t.page.name, t.page.document],
  ]),
);
