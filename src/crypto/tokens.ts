import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** AES-256-GCM ciphertext with the id of the key that sealed it, so keys can be rotated. */
export interface SealedSecret {
  keyId: string;
  iv: string;
  tag: string;
  data: string;
}

export class TokenCipher {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** `current` seals; `previous` keys still open what they sealed until it is re-sealed. */
  constructor(current: Buffer, previous: Buffer[] = []) {
    this.currentKeyId = TokenCipher.keyId(current);
    for (const key of [current, ...previous]) this.keys.set(TokenCipher.keyId(key), key);
  }

  static keyId(key: Buffer): string {
    if (key.length !== 32) throw new Error('token encryption keys are 32 bytes');
    return createHash('sha256').update(key).digest('hex').slice(0, 12);
  }

  seal(plaintext: string, aad: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId: this.currentKeyId, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  /** `aad` binds a ciphertext to its account: a token copied to another account will not open. */
  open(sealed: SealedSecret, aad: string): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new Error(`no token encryption key with id ${sealed.keyId} is configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
  }
}
