import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** An app's proxy policy: balancer, auth and HTTPS. Apps without a row get the default (random, no auth, tls auto). */
@Entity('proxy_app_policies')
export class ProxyAppPolicyEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 }) app!: string;
  @Column({ type: 'varchar', length: 16 }) balancer!: string;
  @Column({ name: 'hash_query', type: 'boolean' }) hashQuery!: boolean;
  @Column({ type: 'varchar', length: 16 }) auth!: string;
  /** JSON of the jwt settings; an HS256 secret is sealed (`sealedSecret`, SecretsBox) and never returned by the API. */
  @Column({ type: 'text', nullable: true }) jwt!: string | null;
  /** auto, files or off. */
  @Column({ type: 'varchar', length: 8, default: 'auto' }) tls!: string;
  @Column({ name: 'redirect_http', type: 'boolean', default: false }) redirectHttp!: boolean;
  /** JSON of {maxAge, includeSubDomains}, or null for no HSTS. */
  @Column({ type: 'text', nullable: true }) hsts!: string | null;
  @Column({ name: 'updated_at', type: 'bigint' }) updatedAt!: number;
}

/** An API key of an app: only its SHA-256 is stored; the key itself is shown once, at creation. */
@Entity('proxy_api_keys')
export class ProxyApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Index() @Column({ type: 'varchar', length: 63 }) app!: string;
  @Column({ type: 'varchar', length: 128 }) name!: string;
  @Column({ type: 'varchar', length: 64, unique: true }) digest!: string;
  /** The first characters of the key, so a person can tell keys apart. */
  @Column({ type: 'varchar', length: 16 }) hint!: string;
  @Column({ name: 'created_at', type: 'bigint' }) createdAt!: number;
  @Column({ name: 'revoked_at', type: 'bigint', nullable: true }) revokedAt!: number | null;
}
