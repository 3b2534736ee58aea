import { Schema, type Connection } from 'mongoose';
import { isDuplicateKey } from '../db/models';

/**
 * Who acknowledged an alert first, claimed with a unique insert (`_id` = alert key). A conditional
 * update (`acknowledgedBy: null` in the filter) is atomic on MongoDB, but FerretDB v1 (the local
 * run and the tests) lets two concurrent ones both match; a duplicate `_id` is refused by both.
 * `alerts.acknowledgedBy` is still written, by the claim's winner only.
 */
const acknowledgementSchema = new Schema(
  {
    _id: { type: String, required: true }, // the alert key, e.g. job-created/<jobId>
    userId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false, collection: 'alert_acknowledgements' },
);

const MODEL_NAME = 'AlertAcknowledgement';
const register = (connection: Connection) => connection.model(MODEL_NAME, acknowledgementSchema);
export type AcknowledgementModel = ReturnType<typeof register>;

export function acknowledgementModel(connection: Connection): AcknowledgementModel {
  return (connection.models[MODEL_NAME] as AcknowledgementModel | undefined) ?? register(connection);
}

export type Claim = { won: true } | { won: false; userId: string; at: Date };

/** The first caller for a key wins; everyone after learns who did and when. */
export async function claimAcknowledgement(model: AcknowledgementModel, key: string, userId: string, at: Date): Promise<Claim> {
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
