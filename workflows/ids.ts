/**
 * Jobber's EncodedIds: base64 of a global id such as `gid://Jobber/Client/123`. Ids are opaque to
 * the API; we decode them only to build readable workflow ids, and encode them in the sandbox,
 * the bench and tests. Base64 is written out because ids must come out the same in Node (ingress,
 * worker, sandbox) and in the workflow sandbox, which has neither Buffer nor atob.
 */

const GID = /^gid:\/\/Jobber\/([A-Za-z]+)\/(\d+)$/;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 (standard or URL alphabet) to a byte string; undefined when it is not base64. */
function base64Ascii(encoded: string): string | undefined {
  const clean = encoded.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  let bits = 0;
  let value = 0;
  let out = '';
  for (const char of clean) {
    const index = B64.indexOf(char);
    if (index < 0) return undefined;
    value = (value << 6) | index;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((value >> bits) & 0xff);
    }
  }
  return out;
}

/** Text to its UTF-8 bytes, one char per byte (a lone surrogate becomes U+FFFD, as in Buffer). */
function utf8Bytes(text: string): string {
  let out = '';
  for (const char of text) {
    let code = char.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    if (code < 0x80) out += char;
    else if (code < 0x800) out += String.fromCharCode(0xc0 | (code >> 6), 0x80 | (code & 63));
    else if (code < 0x10000) out += String.fromCharCode(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    else out += String.fromCharCode(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
  }
  return out;
}

/** A byte string to base64 with padding, as Buffer's toString('base64'). */
function bytesBase64(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes.charCodeAt(i) << 16) | ((bytes.charCodeAt(i + 1) || 0) << 8) | (bytes.charCodeAt(i + 2) || 0);
    out += B64.charAt((n >> 18) & 63) + B64.charAt((n >> 12) & 63);
    out += i + 1 < bytes.length ? B64.charAt((n >> 6) & 63) : '=';
    out += i + 2 < bytes.length ? B64.charAt(n & 63) : '=';
  }
  return out;
}

/** A Jobber global id, `gid://Jobber/<type>/<id>`. */
export interface GlobalId {
  type: string;
  id: string;
}

/** Jobber's EncodedId (base64 of a global id) decoded; undefined for anything else. */
export function parseGlobalId(encoded: string): GlobalId | undefined {
  const decoded = base64Ascii(encoded);
  const match = decoded === undefined ? null : GID.exec(decoded);
  return match ? { type: match[1]!, id: match[2]! } : undefined;
}

/** `gid://Jobber/Client/123` (base64) reads as `123`; anything else is kept as it came. */
export function readableId(encoded: string): string {
  return parseGlobalId(encoded)?.id ?? encoded;
}

/** The EncodedId Jobber gives a record: base64 of `gid://Jobber/<type>/<id>`. */
export function encodeGlobalId(type: string, id: string | number): string {
  return bytesBase64(utf8Bytes(`gid://Jobber/${type}/${id}`));
}
