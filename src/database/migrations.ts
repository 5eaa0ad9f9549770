import type { MigrationInterface } from 'typeorm';
import { Access1764300005000 } from '../access/migrations/1764300005000-access.js';
import { LoginFailures1764500000000 } from '../access/migrations/1764500000000-login-failures.js';
import { Audit1764300006000 } from '../audit/migrations/1764300006000-audit.js';
import { AuditRedact1764810000000 } from '../audit/migrations/1764810000000-audit-redact.js';
import { BroadcastBinlogCheckpoints1764000006000 } from '../broadcast/migrations/1764000006000-broadcast-binlog-checkpoints.js';
import { BroadcastRooms1764200001000 } from '../broadcast/migrations/1764200001000-broadcast-rooms.js';
import { BroadcastRoomNamesBinary1764830000000 } from '../broadcast/migrations/1764830000000-broadcast-room-names-binary.js';
import { DeployModel1764200000000 } from '../deploy/migrations/1764200000000-deploy-model.js';
import { DeployImageArchiveDigests1764820000000 } from '../deploy/migrations/1764820000000-deploy-image-archive-digests.js';
import { DeployImages1764300001000 } from '../deploy/migrations/1764300001000-deploy-images.js';
import { DeployLogsWebhooks1764300003000 } from '../deploy/migrations/1764300003000-deploy-logs-webhooks.js';
import { NotifyChannels1764600000000 } from '../notify/migrations/1764600000000-notify-channels.js';
import { NotifyAddresses1764700000000 } from '../notify/migrations/1764700000000-notify-addresses.js';
import { ProxyAcme1764300004000 } from '../proxy/migrations/1764300004000-proxy-acme.js';
import { ProxyPolicies1764068400000 } from '../proxy/migrations/1764068400000-proxy-policies.js';
import { ProxyTlsPolicy1764400000000 } from '../proxy/migrations/1764400000000-proxy-tls-policy.js';
import { RegistryEmbeddedCatalog1764064800000 } from '../registry/migrations/1764064800000-registry-embedded-catalog.js';
import { RegistryKeysBinary1764830001000 } from '../registry/migrations/1764830001000-registry-keys-binary.js';
import { StorageTailOffsets1764070000000 } from '../storage/migrations/1764070000000-storage-tail-offsets.js';
import { ApiTokens1764100000000 } from '../tokens/migrations/1764100000000-api-tokens.js';

/**
 * Every migration, in order. Each module keeps its migrations in its own folder
 * (`src/<module>/migrations/`) and lists them here, so the schema is the same on
 * every host whatever modules it runs. Write them with the QueryRunner's Table
 * API so they run on SQLite and MySQL alike.
 */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  BroadcastBinlogCheckpoints1764000006000,
  RegistryEmbeddedCatalog1764064800000,
  ProxyPolicies1764068400000,
  StorageTailOffsets1764070000000,
  ApiTokens1764100000000,
  DeployModel1764200000000,
  BroadcastRooms1764200001000,
  DeployImages1764300001000,
  DeployLogsWebhooks1764300003000,
  ProxyAcme1764300004000,
  ProxyTlsPolicy1764400000000,
  Access1764300005000,
  Audit1764300006000,
  LoginFailures1764500000000,
  NotifyChannels1764600000000,
  NotifyAddresses1764700000000,
  AuditRedact1764810000000,
  DeployImageArchiveDigests1764820000000,
  BroadcastRoomNamesBinary1764830000000,
  RegistryKeysBinary1764830001000,
];
