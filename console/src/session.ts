import { ApiError, rest } from './api.js';
import { store } from './state.js';

export interface Me {
  name: string;
  role: string;
  permissions: string[];
}

/** undefined while the first check runs; null when logged out. */
export const session = store<Me | null | undefined>(undefined);

export async function loadSession(): Promise<void> {
  try {
    session.set(await rest<Me>('GET', '/auth/me'));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) session.set(null);
    else throw error;
  }
}

export async function login(username: string, password: string): Promise<void> {
  await rest('POST', '/auth/login', { username, password });
  await loadSession();
}

export async function logout(): Promise<void> {
  try {
    await rest('POST', '/auth/logout');
  } finally {
    session.set(null);
  }
}

/** Whether the logged-in user holds a permission (names from the server's one permission table). */
export function can(permission: string): boolean {
  return session.get()?.permissions.includes(permission) ?? false;
}
