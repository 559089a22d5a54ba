import { AnchorFileError } from '../store/audit-anchors';
import { SchemaTooNewError } from '../store/db';
import { DatabaseInUseError } from '../store/instance-lock';
import { ConfigError } from './config';
import { PlaygroundNotInstalledError } from './playground';

/**
 * What a failed start prints: the message alone when the cause is known and the message says
 * what to do (a bad setting, a database written by a newer version, a port in use, a
 * database that cannot be opened), the stack only for what nobody foresaw.
 */
export function startupFailureText(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (err instanceof ConfigError || err instanceof SchemaTooNewError || err instanceof DatabaseInUseError || err instanceof PlaygroundNotInstalledError || err instanceof AnchorFileError) {
    return err.message;
  }
  const e = (err ?? {}) as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE' && e.syscall === 'listen') {
    return `Cannot listen on ${e.address ?? 'the address'}:${e.port ?? '?'}: another process already uses that port. Stop it, or set PORT (PLAYGROUND_BASE_PORT for the local chats) to a free port.`;
  }
  if ((e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') && e.syscall === 'listen') {
    return `Cannot listen on ${e.address ?? 'the address'}:${e.port ?? '?'} (${e.code}): set HOST and PORT to an address of this machine and a port this user may open.`;
  }
  if (typeof e.code === 'string' && /^SQLITE_(CANTOPEN|NOTADB|CORRUPT|READONLY|PERM|IOERR)/.test(e.code)) {
    return `The database ${env.DATABASE_PATH ?? './data/helpdesk.db'} cannot be used (${e.code}: ${e.message}). DATABASE_PATH must name a SQLite file this user may read and write, in a folder it may write.`;
  }
  if (e.code === 'EISDIR' || e.code === 'ENOTDIR' || e.code === 'EACCES' || e.code === 'EROFS') {
    return `Startup failed: ${e.message}. Check the paths in the configuration (DATABASE_PATH, LOCAL_DIRECTORY_PATH, HR_FEED_DIR, AUDIT_ANCHOR_FILE) and their permissions.`;
  }
  return `Startup failed: ${(err as Error)?.stack ?? String(err)}`;
}
