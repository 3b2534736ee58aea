import { Schema } from 'mongoose';

/** Fields every synced record has: Jobber's updatedAt orders writes; deletedAt is the tombstone. */
export const recordFields = {
  _id: { type: String, required: true }, // Jobber EncodedId
  accountId: { type: String, required: true, index: true },
  createdAt: { type: Date },
  updatedAt: { type: Date },
  deletedAt: { type: Date },
  syncedAt: { type: Date },
  /** When the fetch that returned this copy started; breaks ties of equal updatedAt. */
  fetchedAt: { type: Date },
  /** The fetch started after updatedAt's second ended (plus margin): final for this updatedAt. */
  settled: { type: Boolean },
  jobberWebUri: { type: String },
};

export const addressSchema = new Schema({ street: String, city: String, province: String, postalCode: String, country: String }, { _id: false });

export const date = (value: string | null | undefined): Date | undefined => (value ? new Date(value) : undefined);
