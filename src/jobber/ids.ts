/**
 * Jobber's EncodedId is base64 of a global id such as `gid://Jobber/Client/123`.
 * Ids are opaque to the API; we decode them only to build readable workflow ids.
 */
const GID = /^gid:\/\/Jobber\/([A-Za-z]+)\/(\d+)$/;

export interface GlobalId {
  type: string;
  id: string;
}

export function decodeEncodedId(encoded: string): GlobalId | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) return undefined;
  const match = GID.exec(Buffer.from(encoded, 'base64').toString('utf8'));
  return match ? { type: match[1]!, id: match[2]! } : undefined;
}

export function encodeGlobalId(type: string, id: string | number): string {
  return Buffer.from(`gid://Jobber/${type}/${id}`, 'utf8').toString('base64');
}
