import { Column, Entity, PrimaryColumn } from 'typeorm';
import { millis } from '../../database/millis.js';

/** An app's push webhook: its secret sealed with the deploy secrets key (HMAC needs the secret itself, so no hash). */
@Entity('deploy_webhooks')
export class WebhookEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 }) app!: string;
  @Column({ name: 'sealed_secret', type: 'text' }) sealedSecret!: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
}
