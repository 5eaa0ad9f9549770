import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The ACME account of one directory: its key sealed with the secrets key (AES-256-GCM), shared by every host. */
@Entity('proxy_acme_accounts')
export class AcmeAccountEntity {
  @PrimaryColumn({ type: 'varchar', length: 512 }) directory!: string;
  @Column({ type: 'varchar', length: 254 }) email!: string;
  /** The account's private key (PEM), sealed (src/common/secrets-box.ts). */
  @Column({ name: 'key_sealed', type: 'text' }) keySealed!: string;
  /** The account URL the CA gave (its `kid`). */
  @Column({ type: 'varchar', length: 512, nullable: true }) url!: string | null;
  @Column({ name: 'created_at', type: 'bigint' }) createdAt!: string | number;
}

/**
 * One domain's ACME certificate and the state of its renewal. Every host's
 * proxy loads the certificates from here; the host that orders writes them.
 */
@Entity('proxy_acme_certificates')
export class AcmeCertificateEntity {
  @PrimaryColumn({ type: 'varchar', length: 253 }) domain!: string;
  /** PEM chain, leaf first; null until the first order succeeds. */
  @Column({ name: 'cert_pem', type: 'text', nullable: true }) certPem!: string | null;
  /** The certificate's private key (PEM), sealed. */
  @Column({ name: 'key_sealed', type: 'text', nullable: true }) keySealed!: string | null;
  @Column({ name: 'not_before', type: 'bigint', nullable: true }) notBefore!: string | number | null;
  @Column({ name: 'not_after', type: 'bigint', nullable: true }) notAfter!: string | number | null;
  @Column({ name: 'issued_at', type: 'bigint', nullable: true }) issuedAt!: string | number | null;
  /** The host that ordered it (config host.name). */
  @Column({ name: 'issued_by', type: 'varchar', length: 63, nullable: true }) issuedBy!: string | null;
  /** Orders failed in a row since the last success. */
  @Column({ type: 'int', default: 0 }) failures!: number;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'last_error_at', type: 'bigint', nullable: true }) lastErrorAt!: string | number | null;
  /** No order before this (backoff after a failure). */
  @Column({ name: 'next_attempt_at', type: 'bigint', nullable: true }) nextAttemptAt!: string | number | null;
  @Column({ name: 'updated_at', type: 'bigint' }) updatedAt!: string | number;
}
