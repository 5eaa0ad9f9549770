import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { moduleHealthController } from '../common/module-health.controller.js';
import { RegistryModule } from '../registry/registry.module.js';
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
  imports: [RegistryModule, TypeOrmModule.forFeature([ProxyAppPolicyEntity, ProxyApiKeyEntity])],
  controllers: [moduleHealthController('proxy'), ProxyController, CertificatesController],
  providers: [ProxyPolicyService, ProxyService, ProxyHealth, ProxyResolver, CertificateBook, CertificateMetrics],
  exports: [ProxyPolicyService, CertificateBook],
})
export class ProxyModule {}
