import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBot } from '../../bot/main';
import { startupFailureText } from '../../bot/startup-failure';

/** The start fails for reasons a newcomer or an operator causes: each says what to do, without a stack. */
describe('what a failed start prints', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-startup-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    PORT: '0',
    DATABASE_PATH: path.join(dir, 'helpdesk.db'),
    LOCAL_DIRECTORY_PATH: path.join(dir, 'directory.db'),
    PLAYGROUND: 'false',
    LOG_LEVEL: 'silent',
    ...extra,
  });

  async function failure(e: NodeJS.ProcessEnv): Promise<string> {
    const err = await startBot(e, { logDestination: pino.destination({ dest: path.join(dir, 'log'), sync: true }) }).then(
      async (bot) => {
        await bot.close();
        throw new Error('the bot started');
      },
      (error: unknown) => error,
    );
    return startupFailureText(err, e);
  }

  it('a port another process holds', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const text = await failure(env({ PORT: String(port) }));
      expect(text).toBe(`Cannot listen on 127.0.0.1:${port}: another process already uses that port. Stop it, or set PORT (PLAYGROUND_BASE_PORT for the local chats) to a free port.`);
    } finally {
      holder.close();
    }
  });

  it('a database written by a newer version', async () => {
    const file = path.join(dir, 'helpdesk.db');
    const db = new Database(file);
    db.pragma('user_version = 9999');
    db.close();
    const text = await failure(env({}));
    expect(text).toMatch(/^Database .*helpdesk\.db has schema version 9999, but this version of the bot only knows up to \d+\. Upgrade the bot/);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('DATABASE_PATH naming a folder', async () => {
    const folder = path.join(dir, 'a-folder');
    fs.mkdirSync(folder);
    const text = await failure(env({ DATABASE_PATH: folder }));
    expect(text).toContain(`The database ${folder} cannot be used (SQLITE_CANTOPEN`);
    expect(text).toContain('DATABASE_PATH must name a SQLite file');
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('a bad setting names the variable', async () => {
    const text = await failure(env({ PORT: 'eighty' }));
    expect(text).toMatch(/PORT/);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('anything else keeps its stack, for whoever has to find it', () => {
    expect(startupFailureText(new Error('unexpected'))).toMatch(/^Startup failed: Error: unexpected\n\s+at /);
  });
});
