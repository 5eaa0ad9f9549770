import { Module } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { moduleHealthController } from '../common/module-health.controller.js';
import { RegistryModule } from '../registry/registry.module.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { SecretsBox } from '../common/secrets-box.js';
import { AcmeController } from './acme/acme.controller.js';
import { AcmeAccountEntity, AcmeCertificateEntity } from './acme/acme.entity.js';
import { AcmeResolver } from './acme/acme.resolver.js';
import { AcmeService } from './acme/acme.service.js';
import { AcmeStore } from './acme/acme.store.js';
import { ProxyController } from './proxy.controller.js';
import { ProxyApiKeyEntity, ProxyAppPolicyEntity } from './proxy.entity.js';
import { ProxyHealth } from './proxy.health.js';
import { ProxyPolicyService } from './proxy-policy.service.js';
import { ProxyResolver } from './proxy.resolver.js';
import { ProxyService } from './proxy.service.js';
import { CertificateBook } from './tls/certificate-book.js';
import { CertificateMetrics } from './tls/certificate-metrics.js';
import { CertificatesController } from './tls/certificates.controller.js';

/** Wiring only: the hot path (ProxyServer) runs in the worker processes ProxyService starts. */
@Module({
  imports: [RegistryModule, TypeOrmModule.forFeature([ProxyAppPolicyEntity, ProxyApiKeyEntity, AcmeAccountEntity, AcmeCertificateEntity])],
  controllers: [moduleHealthController('proxy'), ProxyController, CertificatesController, AcmeController],
  providers: [
    ProxyPolicyService, ProxyService, ProxyHealth, ProxyResolver, CertificateBook, CertificateMetrics,
    // Certificate keys and apps' HS256 secrets are sealed at rest, as app secrets are.
    { provide: SecretsBox, inject: [DOZEN_CONFIG], useFactory: (config: DozenConfig) => SecretsBox.fromConfig(config) },
    {
      provide: AcmeStore,
      inject: [getRepositoryToken(AcmeAccountEntity), getRepositoryToken(AcmeCertificateEntity), SecretsBox],
      useFactory: (accounts: Repository<AcmeAccountEntity>, certificates: Repository<AcmeCertificateEntity>, box: SecretsBox) => new AcmeStore(accounts, certificates, box),
    },
    AcmeService,
    AcmeResolver,
  ],
  exports: [ProxyPolicyService, CertificateBook],
})
export class ProxyModule {}
