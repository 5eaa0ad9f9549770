import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { InjectLogger } from '../common/core.module.js';
import { DomainError, NotFound } from '../common/errors.js';
import { LiveCallers } from '../common/live-callers.js';
import { UserEntity, type Role } from './access.entity.js';
import type { CreateUserInput, UpdateUserInput } from './dto/access.dto.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { SessionsService } from './sessions.service.js';

/** A user as the APIs show it: never the password hash. */
export interface UserView {
  id: string;
  name: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export class UserExists extends DomainError {
  constructor(name: string) {
    super(409, 'user_exists', `a user named ${JSON.stringify(name)} exists already`, 'name');
  }
}

/** Users: created by admins (or `dozen user add`), with a role; disabling one or changing its password ends its sessions. */
@Injectable()
export class UsersService {
  private readonly log: Logger;

  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly sessions: SessionsService,
    private readonly live: LiveCallers,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'access' });
  }

  async create(input: CreateUserInput): Promise<UserView> {
    if (await this.users.existsBy({ name: input.name })) throw new UserExists(input.name);
    const now = Date.now();
    const row = this.users.create({ id: randomUUID(), name: input.name, role: input.role, passwordHash: await hashPassword(input.password), createdAt: now, updatedAt: now, disabledAt: null });
    try {
      await this.users.insert(row);
    } catch (error) {
      // Two creations racing past the check above: the unique index decides.
      if (await this.users.existsBy({ name: input.name })) throw new UserExists(input.name);
      throw error;
    }
    this.log.info({ user: row.name, role: row.role }, 'user created');
    return userView(row);
  }

  async list(): Promise<UserView[]> {
    return (await this.users.find({ order: { name: 'ASC' } })).map(userView);
  }

  async get(name: string): Promise<UserEntity> {
    const row = await this.users.findOneBy({ name });
    if (!row) throw new NotFound('user', name);
    return row;
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }

  /** Changes the role and/or disables (ending every session) or enables the user; its WebSockets follow at once. */
  async update(name: string, input: UpdateUserInput): Promise<UserView> {
    const row = await this.get(name);
    const roleBefore = row.role;
    if (input.role !== undefined) row.role = input.role;
    if (input.disabled !== undefined) row.disabledAt = input.disabled ? (row.disabledAt ?? Date.now()) : null;
    row.updatedAt = Date.now();
    await this.users.update({ id: row.id }, { role: row.role, disabledAt: row.disabledAt, updatedAt: row.updatedAt });
    // A role change takes effect on the next request (sessions read the role from the user row), and open
    // WebSockets, authorized for the old role, are closed; disabling ends every session at once.
    if (row.disabledAt !== null) await this.sessions.endAllOf(row.id, 'user disabled');
    else if (row.role !== roleBefore) await this.live.recheckUser(row.id, 'role changed');
    this.log.info({ user: name, role: row.role, disabled: row.disabledAt !== null }, 'user updated');
    return userView(row);
  }

  /** Sets a new password and ends every session of the user (they log in again with it). */
  async setPassword(name: string, password: string): Promise<UserView> {
    const row = await this.get(name);
    row.passwordHash = await hashPassword(password);
    row.updatedAt = Date.now();
    await this.users.update({ id: row.id }, { passwordHash: row.passwordHash, updatedAt: row.updatedAt });
    await this.sessions.endAllOf(row.id, 'password reset');
    this.log.info({ user: name }, 'password changed');
    return userView(row);
  }

  /** The enabled user with this name and password, or null. Takes as long for an unknown name as for a wrong password. */
  /** The user when the password is theirs and they are enabled; `known`: the name is a user's (for the audit trail only). */
  async verify(name: string, password: string): Promise<{ user: UserEntity | null; known: boolean }> {
    const row = await this.users.findOneBy({ name: name.toLowerCase() });
    const matches = await verifyPassword(password, row?.passwordHash ?? (await decoyHash()));
    return { user: row && matches && row.disabledAt === null ? row : null, known: row !== null };
  }
}

export function userView(row: UserEntity): UserView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    disabled: row.disabledAt !== null,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}
