import { isDuplicateKey, type Models } from '../db/models';

/**
 * Alert rules per account: which facts post to Slack, and to which channel. Stored in
 * `alert_rules`, one document per account, written only by the Manage App page (POST
 * /alert-rules); read by the sendAlert activity at send time, so a change applies to the next
 * alert without any workflow knowing about it.
 */

/** Every fact an alert can be about, in the order the Manage App page lists them. Stable names: they are alert keys. */
export const ALERT_FACTS = ['request-created', 'quote-approved', 'job-created', 'visit-completed', 'payment-received', 'invoice-paid', 'job-closed'] as const;
export type AlertFact = (typeof ALERT_FACTS)[number];

export const ALERT_FACT_LABELS: Record<AlertFact, string> = {
  'request-created': 'New request',
  'quote-approved': 'Quote approved',
  'job-created': 'New job',
  'visit-completed': 'Visit completed',
  'payment-received': 'Payment received',
  'invoice-paid': 'Invoice paid in full',
  'job-closed': 'Job closed',
};

/** On for an account that never saved its rules: the two alerts of old, plus the three a business asks for first. */
const ON_BY_DEFAULT: ReadonlySet<AlertFact> = new Set<AlertFact>(['request-created', 'quote-approved', 'job-created', 'payment-received', 'invoice-paid']);

export interface AlertRule {
  on: boolean;
  /** A channel of its own for this fact; absent: the account's alert channel. */
  channel?: string;
}

export type AlertRules = Record<AlertFact, AlertRule>;

export const isAlertFact = (name: string): name is AlertFact => (ALERT_FACTS as readonly string[]).includes(name);

export function defaultAlertRules(): AlertRules {
  return Object.fromEntries(ALERT_FACTS.map((fact) => [fact, { on: ON_BY_DEFAULT.has(fact) }])) as AlertRules;
}

/** The account's rules: what it saved, the defaults for what it did not (a fact added since, or no save at all). */
export async function readAlertRules(models: Models, accountId: string): Promise<AlertRules> {
  const rules = defaultAlertRules();
  const doc = await models.AlertRules.findById(accountId).lean();
  for (const saved of doc?.facts ?? []) {
    if (saved.fact && isAlertFact(saved.fact)) rules[saved.fact] = { on: saved.on === true, ...(saved.channel ? { channel: saved.channel } : {}) };
  }
  return rules;
}

/** The rule for one fact; a fact no rule knows of alerts, to the account's channel (never dropped silently). */
export async function alertRuleFor(models: Models, accountId: string, fact: string): Promise<AlertRule> {
  return isAlertFact(fact) ? (await readAlertRules(models, accountId))[fact] : { on: true };
}

/** Slack's channel ids: C (public) or G (private), then upper-case letters and digits. Names change; ids do not. */
const CHANNEL_ID = /^[CG][A-Z0-9]{6,20}$/;

export type ParsedAlertRules = { ok: true; rules: AlertRules } | { ok: false; errors: string[] };

/**
 * The Manage App form: a checkbox `on` per fact (its value the fact's name; unchecked = off) and a
 * text field `channel:<fact>` (empty = the account's channel). Anything else is refused, whole.
 */
export function parseAlertRulesForm(body: Record<string, unknown>): ParsedAlertRules {
  const errors: string[] = [];
  const rules: AlertRules = Object.fromEntries(ALERT_FACTS.map((fact) => [fact, { on: false }])) as AlertRules;
  const on = body.on === undefined ? [] : Array.isArray(body.on) ? body.on : [body.on];
  for (const name of on) {
    if (typeof name === 'string' && isAlertFact(name)) rules[name].on = true;
    else errors.push(`unknown fact ${JSON.stringify(name)}: the facts are ${ALERT_FACTS.join(', ')}`);
  }
  for (const [field, value] of Object.entries(body)) {
    if (field === 'csrf' || field === 'on') continue;
    const fact = field.startsWith('channel:') ? field.slice('channel:'.length) : undefined;
    if (fact === undefined) {
      errors.push(`unknown field ${JSON.stringify(field)}`);
      continue;
    }
    if (!isAlertFact(fact)) {
      errors.push(`unknown fact ${JSON.stringify(fact)}: the facts are ${ALERT_FACTS.join(', ')}`);
      continue;
    }
    if (typeof value !== 'string') {
      errors.push(`${ALERT_FACT_LABELS[fact]}: give one channel id`);
      continue;
    }
    const channel = value.trim();
    if (!channel) continue;
    if (!CHANNEL_ID.test(channel)) {
      errors.push(
        `${ALERT_FACT_LABELS[fact]}: ${JSON.stringify(channel.slice(0, 40))} is not a Slack channel id (C or G, then capital letters and digits, as in Slack's channel details); leave it empty for the account's channel`,
      );
      continue;
    }
    rules[fact].channel = channel;
  }
  return errors.length ? { ok: false, errors } : { ok: true, rules };
}

/** Replaces the account's rules, whole (the Manage App page is this collection's only writer). */
export async function saveAlertRules(models: Models, accountId: string, rules: AlertRules, now = new Date()): Promise<void> {
  const facts = ALERT_FACTS.map((fact) => ({ fact, on: rules[fact].on, ...(rules[fact].channel ? { channel: rules[fact].channel } : {}) }));
  await models.AlertRules.updateOne({ _id: accountId }, { $set: { facts, updatedAt: now } }, { upsert: true });
}

export const turnedOffReason = (fact: string): string => `${fact} alerts are turned off in the account's alert rules`;

/**
 * Records that a fact was not posted because its rule was off: the fact's alert record (same key,
 * same unique insert as a send's claim) says so, and a later resend of the fact finds it and posts
 * nothing either. Returns the reason; undefined when the fact was already claimed for sending while
 * its rule was on, so the caller finishes that send (once) instead of leaving it half done.
 */
export async function recordTurnedOff(
  models: Models,
  input: { key: string; accountId: string; owner: string; fact: string },
  now = new Date(),
): Promise<string | undefined> {
  const reason = turnedOffReason(input.fact);
  try {
    await models.Alert.create({ _id: input.key, accountId: input.accountId, status: 'off', owner: input.owner, claimedAt: now, reason });
    return reason;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await models.Alert.findById(input.key).lean();
    return existing?.status === 'off' ? (existing.reason ?? reason) : undefined;
  }
}
