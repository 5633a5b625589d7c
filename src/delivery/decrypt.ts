import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import { ConfigError } from '../errors.js';
import { loadPrivateKey, type PrivateKeyCatalogue } from '../pipeline/keys.js';
import { decryptArtifact } from '../pgp-decrypt.js';
import { LocalArtifactStore, type ArtifactStore } from '../storage/index.js';
import { keyOfPath, readError } from '../storage/read.js';
import type { DeliveryArtifact } from '../store/offload.js';

/**
 * Decrypts stored artifacts for delivery (in memory, as they stream from the store:
 * src/pgp-decrypt.ts; a one-hour u-law WAV is 29 MB) and checks the plaintext against the
 * catalogue's SHA-256, so nothing altered is ever delivered. The
 * encrypted files are read through the artifact store (default: the `local` store of the data
 * directory); a store that does not answer fails the attempt, which is retried like any other
 * delivery failure. Private keys (under `<dataDir>/keys`, else the catalogue's copy) are unlocked
 * once per fingerprint with the server's passphrase (SRS_KEY_PASSPHRASE, else the generated one).
 */
/** What a decryption for delivery is for (the audit entry's `purpose`). */
export type DeliveryPurpose = 'offload' | 'export' | 'notification' | 'journal';

export class Decryptor {
  private readonly keys = new Map<string, Promise<openpgp.PrivateKey>>();
  readonly store: ArtifactStore;

  constructor(
    private readonly dataDir: string,
    private readonly passphrase: string,
    store?: ArtifactStore,
    /** Keys generated on another node (keys.inCatalogue). */
    private readonly catalogue?: PrivateKeyCatalogue,
  ) {
    this.store = store ?? new LocalArtifactStore(dataDir);
  }

  /** Throws ConfigError when the delivery features cannot decrypt (no passphrase). */
  static require(
    dataDir: string,
    passphrase: string | undefined,
    features: string[],
    store?: ArtifactStore,
    catalogue?: PrivateKeyCatalogue,
  ): Decryptor {
    if (!passphrase)
      throw new ConfigError(
        `${features.join(', ')} must decrypt recordings: set keys.passphrase (SRS_KEY_PASSPHRASE) to the recording key's passphrase (without it, srs serve uses the one its first start generated, in ${join(dataDir, 'secrets', 'recording-key-passphrase')}, when that file is there)`,
      );
    return new Decryptor(dataDir, passphrase, store, catalogue);
  }

  private key(fingerprint: string | undefined): Promise<openpgp.PrivateKey> {
    const k = fingerprint ?? '';
    let p = this.keys.get(k);
    if (!p) {
      p = loadPrivateKey(join(this.dataDir, 'keys'), fingerprint, this.passphrase, this.catalogue);
      p.catch(() => this.keys.delete(k));
      this.keys.set(k, p);
    }
    return p;
  }

  /** Unlocks the key once: a wrong passphrase fails at start, not at the first delivery. */
  async check(fingerprint?: string): Promise<void> {
    await this.key(fingerprint);
  }

  /**
   * Called before each decryption with the recording, the delivery it is for and where the audio
   * goes (a destination's name, a mailbox): the audit entry of the access (src/delivery/index.ts
   * writes it, as the system principal). A failure stops the delivery.
   */
  onAccess?: (
    recordingId: string,
    purpose: 'offload' | 'export' | 'notification' | 'journal',
    to: string,
    /** The user the audio is for (a notification's subscriber). */
    user?: string,
  ) => Promise<void>;

  async plain(
    a: DeliveryArtifact,
    access?: { recordingId: string; purpose: DeliveryPurpose; to: string; user?: string },
  ): Promise<Buffer> {
    if (access && this.onAccess)
      await this.onAccess(access.recordingId, access.purpose, access.to, access.user);
    const key = await this.key(a.keyFingerprint);
    const storeKey = keyOfPath(this.store, a.path);
    const { body, size } = await this.store.get(storeKey);
    let r;
    try {
      r = await decryptArtifact({ body, size }, key);
    } catch (err) {
      throw readError(err, storeKey);
    }
    const plain = r.plain;
    if (r.sha256Plain !== a.sha256Plain) {
      plain.fill(0);
      throw new Error(`${a.path}: decrypted content does not match the catalogue's SHA-256`);
    }
    return plain;
  }
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
