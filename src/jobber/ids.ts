/**
 * Jobber's EncodedId is base64 of a global id such as `gid://Jobber/Client/123`.
 * Ids are opaque to the API; we decode them (parseGlobalId in workflows/definitions.ts) only to
 * build readable workflow ids.
 */
export function encodeGlobalId(type: string, id: string | number): string {
  return Buffer.from(`gid://Jobber/${type}/${id}`, 'utf8').toString('base64');
}
