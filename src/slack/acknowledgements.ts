import { isDuplicateKey, type Models } from '../db/models';

export type Claim = { won: true } | { won: false; userId: string; at: Date };

/**
 * The first caller for a key wins; everyone after learns who did and when. A unique insert, not a
 * conditional update: see the schema (alert_acknowledgements in src/db/models.ts) for why.
 */
export async function claimAcknowledgement(model: Models['AlertAcknowledgement'], key: string, userId: string, at: Date): Promise<Claim> {
  try {
    await model.create({ _id: key, userId, at });
    return { won: true };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await model.findById(key).lean();
    if (!existing) throw new Error(`acknowledgement of ${key} vanished while claiming`, { cause: err });
    return { won: false, userId: existing.userId, at: existing.at };
  }
}
