import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';

/** Every command the Teams app manifest suggests must be one the bot really answers. */
const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../appPackage/manifest.json'), 'utf8'));
const lists: Array<{ scopes: string[]; commands: Array<{ title: string }> }> = manifest.bots[0].commandLists;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

describe('manifest command lists', () => {
  for (const list of lists) {
    for (const { title } of list.commands) {
      const where = list.scopes.includes('team') ? 'channel' : 'personal';
      it(`"${title}" (${list.scopes.join(', ')}) gets a real answer, not the fallback`, async () => {
        h.connector.clear();
        // Technicians have every role's commands; the persona with the most rights asks.
        const res = await h.client.message(h.user('technician'), title, { where });
        expect(res.status).toBe(200);
        const sent = h.connector.sent();
        expect(sent.length).toBeGreaterThan(0);
        for (const a of sent) expect(a.text ?? '').not.toMatch(/did not understand/);
      });
    }
  }
});
