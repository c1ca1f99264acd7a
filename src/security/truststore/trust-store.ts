/**
 * The VBS trust store (paper 4.2, 6.1): the certificates whose holders may sign requests, in one
 * SQLite file shared by the services (which read it on every request) and vbs-admin (which changes
 * it from another process). The user ID is the certificate's subject CN; a certificate is found by
 * the SHA-256 of its DER, never by name, so a self-signed certificate copying a user's name is simply
 * unknown. Two sources: 'ca' (issued by the VBS CA, checked against it) and 'manual' (added by an
 * admin as in the paper, self-signed allowed: the exact fingerprint is the trust).
 *
 * resolveUser is the request path: one SHA-256, one `PRAGMA data_version` (which changes when another
 * connection commits, e.g. a revocation by vbs-admin, so it takes effect on the next request, no
 * restart) and a map lookup; parsed certificates are cached by fingerprint across reloads.
 */
import { X509Certificate } from 'node:crypto';
import type Database from 'better-sqlite3';
import { generateKeyPair, issueCertificate, signCsr, type CaMaterial } from '../ca/certificate-authority.js';
import type { TrustedCertificate } from '../wssec/verify.js';
import {
  fingerprintOf,
  hasUsableUserKey,
  issuedBy,
  readCertificate,
  type CertificateFacts,
} from './certificate-facts.js';
import { openTrustDatabase } from './schema.js';
import { evaluateRow, type CertificateSource, type StoredIdentity, type TrustEntry } from './trust-entries.js';
import { TrustStoreError, checkUserName } from './user-names.js';

export type { CertificateSource } from './trust-entries.js';
export type CertificateStatus = 'active' | 'revoked' | 'expired' | 'not-yet-valid' | 'untrusted';

export interface CertificateRecord {
  readonly fingerprint: string;
  readonly userId: string;
  readonly source: CertificateSource;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly addedAt: string;
  readonly revokedAt: string | null;
  /** What resolveUser would do with it now; 'untrusted' when a check failed (e.g. another CA). */
  readonly status: CertificateStatus;
}

export interface AddOptions {
  /** Allow another key for a user ID that an active certificate already holds. */
  readonly sameUser?: boolean;
}

export interface IssueOptions extends AddOptions {
  readonly validDays?: number;
}

export interface TrustStoreOptions {
  /** Milliseconds since the epoch; tests move the clock. */
  readonly now?: () => number;
}

interface Row extends StoredIdentity {
  readonly pem: string;
  readonly serial: string;
  readonly key_fingerprint: string;
  readonly not_before: string;
  readonly not_after: string;
  readonly added_at: string;
  readonly revoked_at: string | null;
}

export class TrustStore {
  private readonly db: Database.Database;
  private readonly ca: X509Certificate;
  private readonly caFingerprint: string;
  private readonly now: () => number;
  private readonly dataVersion: Database.Statement;
  private readonly activeRows: Database.Statement;
  private readonly pemOf: Database.Statement;
  private loadedVersion = -1;
  private stale = true;
  private active = new Map<string, TrustEntry>();
  /** Every certificate parsed so far, so that a reload parses only new rows. */
  private readonly parsed = new Map<string, TrustEntry>();

  constructor(file: string, caPem: string, options: TrustStoreOptions = {}) {
    this.ca = new X509Certificate(caPem);
    if (!this.ca.ca) throw new TrustStoreError('the trust store CA certificate is not a CA');
    this.caFingerprint = fingerprintOf(this.ca.raw);
    this.now = options.now ?? Date.now;
    this.db = openTrustDatabase(file);
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.activeRows = this.db.prepare('SELECT fingerprint, user_id, source FROM certificates WHERE revoked_at IS NULL');
    this.pemOf = this.db.prepare('SELECT pem FROM certificates WHERE fingerprint = ?').pluck();
  }

  /** The verifier's resolveCertificate (VerifyOptions), bound to this store. */
  readonly resolve = (tokenDer: Buffer): TrustedCertificate | undefined => this.resolveUser(tokenDer);

  /** The certificate with exactly these DER bytes, if present, not revoked, checked, and valid now. */
  resolveUser(tokenDer: Buffer): TrustedCertificate | undefined {
    this.refresh();
    const entry = this.active.get(fingerprintOf(tokenDer));
    if (entry?.trusted === undefined) return undefined;
    const now = this.now();
    return now >= entry.notBefore && now <= entry.notAfter ? entry.trusted : undefined;
  }

  /** A new key and a client certificate for `name` from the VBS CA, recorded as source 'ca'. */
  issueUser(
    name: string,
    ca: CaMaterial,
    options: IssueOptions = {},
  ): { keyPem: string; certPem: string; record: CertificateRecord } {
    checkUserName(name);
    this.checkCa(ca);
    // Fail before the key is made; add() checks again under the write lock.
    if (options.sameUser !== true) this.checkHolders(name, undefined, false);
    const pair = generateKeyPair();
    const issued = issueCertificate(ca, {
      commonName: name,
      publicKeyPem: pair.publicKeyPem,
      usage: 'client',
      ...(options.validDays === undefined ? {} : { validDays: options.validDays }),
    });
    const record = this.add(readCertificate(issued.certPem), 'ca', options);
    return { keyPem: pair.privateKeyPem, certPem: issued.certPem, record };
  }

  /** Signs a user's own CSR (the key never leaves the user); the CSR's CN is the user ID. */
  enrollCsr(
    csrPem: string,
    ca: CaMaterial,
    options: IssueOptions = {},
  ): { certPem: string; record: CertificateRecord } {
    this.checkCa(ca);
    let certPem: string;
    try {
      certPem = signCsr(ca, csrPem, 'client', options.validDays).certPem;
    } catch (err) {
      throw new TrustStoreError(err instanceof Error ? err.message : String(err));
    }
    return { certPem, record: this.add(readCertificate(certPem), 'ca', options) };
  }

  /** The paper's way: a certificate (PEM or DER, self-signed allowed) trusted as it is. */
  trustManual(cert: string | Buffer, options: AddOptions = {}): CertificateRecord {
    return this.add(readCertificate(cert), 'manual', options);
  }

  /** Revokes every unrevoked certificate of the user; returns how many. Running services see it at once. */
  revokeUser(userId: string): number {
    const changes = this.db
      .prepare('UPDATE certificates SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL')
      .run(this.isoNow(), userId).changes;
    this.stale = true;
    return changes;
  }

  /** Revokes one certificate by fingerprint (hex SHA-256 of its DER); false if absent or already revoked. */
  revokeCertificate(fingerprint: string): boolean {
    const changes = this.db
      .prepare('UPDATE certificates SET revoked_at = ? WHERE fingerprint = ? AND revoked_at IS NULL')
      .run(this.isoNow(), fingerprint.toLowerCase()).changes;
    this.stale = true;
    return changes === 1;
  }

  /** Every certificate ever added, revoked ones too, by user and date added. */
  list(): CertificateRecord[] {
    const rows = this.db.prepare('SELECT * FROM certificates ORDER BY user_id, added_at, fingerprint').all() as Row[];
    return rows.map((r) => this.recordOf(r));
  }

  get(fingerprint: string): CertificateRecord | undefined {
    const row = this.db.prepare('SELECT * FROM certificates WHERE fingerprint = ?').get(fingerprint.toLowerCase()) as
      Row | undefined;
    return row && this.recordOf(row);
  }

  close(): void {
    this.db.close();
  }

  private refresh(): void {
    if (!this.stale && this.dataVersion.get() === this.loadedVersion) return;
    // One read transaction: the version and the rows belong to the same snapshot.
    this.db.transaction(() => {
      const version = this.dataVersion.get() as number;
      const next = new Map<string, TrustEntry>();
      for (const row of this.activeRows.all() as StoredIdentity[]) next.set(row.fingerprint, this.entryFor(row));
      this.active = next;
      this.loadedVersion = version;
      this.stale = false;
    })();
  }

  private entryFor(row: StoredIdentity): TrustEntry {
    const known = this.parsed.get(row.fingerprint);
    if (known && known.userId === row.user_id && known.source === row.source) return known;
    const entry = evaluateRow(row, (this.pemOf.get(row.fingerprint) as string | undefined) ?? '', this.ca);
    this.parsed.set(row.fingerprint, entry);
    return entry;
  }

  private add(facts: CertificateFacts, source: CertificateSource, options: AddOptions): CertificateRecord {
    const userId = this.checkAddable(facts, source);
    this.db
      .transaction(() => {
        const existing = this.db.prepare('SELECT * FROM certificates WHERE fingerprint = ?').get(facts.fingerprint) as
          Row | undefined;
        if (existing?.revoked_at) {
          throw new TrustStoreError(
            `this certificate was revoked on ${existing.revoked_at}; a revoked certificate cannot be trusted again`,
          );
        }
        if (existing)
          throw new TrustStoreError(
            `this certificate is already trusted, for user ${JSON.stringify(existing.user_id)}`,
          );
        this.checkHolders(userId, facts.keyFingerprint, options.sameUser === true);
        this.db
          .prepare(
            `INSERT INTO certificates (fingerprint, user_id, pem, source, serial, key_fingerprint, not_before, not_after, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            facts.fingerprint,
            userId,
            facts.x509.toString(),
            source,
            facts.serial,
            facts.keyFingerprint,
            new Date(facts.notBefore).toISOString(),
            new Date(facts.notAfter).toISOString(),
            this.isoNow(),
          );
      })
      .immediate();
    this.stale = true;
    const record = this.get(facts.fingerprint);
    if (!record) throw new Error('the certificate just added is missing from the trust store');
    return record;
  }

  /** Everything about the certificate itself that must hold before it is added; returns the user ID. */
  private checkAddable(facts: CertificateFacts, source: CertificateSource): string {
    const userId = facts.commonName;
    if (userId === undefined) {
      throw new TrustStoreError('the certificate has no (single) subject CN; the CN is the user ID');
    }
    checkUserName(userId);
    if (!hasUsableUserKey(facts.x509))
      throw new TrustStoreError('the certificate must hold an RSA key of at least 2048 bits');
    if (!(facts.notAfter > this.now())) {
      throw new TrustStoreError(`the certificate expired on ${new Date(facts.notAfter).toISOString()}`);
    }
    if (source === 'ca' && !issuedBy(facts.x509, this.ca))
      throw new TrustStoreError('the certificate was not issued by the VBS CA');
    return userId;
  }

  /**
   * A user ID held by an active certificate (not revoked, not expired) of another key may be given a
   * new key only on purpose (sameUser); a name that differs from a held one only in case is refused.
   * keyFingerprint undefined: a key not yet made, so different from every held one.
   */
  private checkHolders(userId: string, keyFingerprint: string | undefined, sameUser: boolean): void {
    const holders = this.db
      .prepare(
        'SELECT user_id, fingerprint, key_fingerprint, not_after FROM certificates WHERE user_id = ? COLLATE NOCASE AND revoked_at IS NULL',
      )
      .all(userId) as Pick<Row, 'user_id' | 'fingerprint' | 'key_fingerprint' | 'not_after'>[];
    const now = this.now();
    for (const h of holders.filter((r) => Date.parse(r.not_after) > now)) {
      if (h.user_id !== userId) {
        throw new TrustStoreError(
          `the user name ${JSON.stringify(userId)} differs only in case from the existing user ${JSON.stringify(h.user_id)}`,
        );
      }
      if (h.key_fingerprint !== keyFingerprint && !sameUser) {
        throw new TrustStoreError(
          `user ${JSON.stringify(userId)} already has an active certificate with another key (fingerprint ${h.fingerprint}); ` +
            'revoke it first, or confirm that the new certificate belongs to the same user (same-user)',
        );
      }
    }
  }

  private checkCa(ca: CaMaterial): void {
    if (fingerprintOf(new X509Certificate(ca.certPem).raw) !== this.caFingerprint) {
      throw new TrustStoreError('the CA given is not the CA this trust store trusts');
    }
  }

  private recordOf(row: Row): CertificateRecord {
    const entry = this.entryFor(row);
    const now = this.now();
    const status: CertificateStatus =
      row.revoked_at !== null
        ? 'revoked'
        : entry.trusted === undefined
          ? 'untrusted'
          : now < entry.notBefore
            ? 'not-yet-valid'
            : now > entry.notAfter
              ? 'expired'
              : 'active';
    return {
      fingerprint: row.fingerprint,
      userId: row.user_id,
      source: row.source === 'ca' ? 'ca' : 'manual',
      serial: row.serial,
      notBefore: row.not_before,
      notAfter: row.not_after,
      addedAt: row.added_at,
      revokedAt: row.revoked_at,
      status,
    };
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }
}
