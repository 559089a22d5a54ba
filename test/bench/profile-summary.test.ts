import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageOf, summariseProfile } from '../../bench/profile-summary';

const root = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-profile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });

/** A profile of a turn: root -> our route -> teams-ai -> restify, plus idle and GC. Sample times in µs. */
function writeProfile(): string {
  const nodes = [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4] },
    { id: 2, callFrame: frame('(idle)', ''), children: [] },
    { id: 3, callFrame: frame('(garbage collector)', ''), children: [] },
    { id: 4, callFrame: frame('run', `file://${root}/dist/bot/app.js`, 9), children: [5] },
    { id: 5, callFrame: frame('Application.run', `file://${root}/node_modules/@microsoft/teams-ai/lib/Application.js`, 405), children: [6] },
    { id: 6, callFrame: frame('readBody', `file://${root}/node_modules/restify/lib/plugins/bodyReader.js`, 70), children: [] },
  ];
  // Each sample's time is the gap to the next one: 10 ms each; the first 2 samples fall in the first 15 ms.
  const samples = [4, 4, 2, 2, 3, 5, 6, 6, 6, 4];
  const timeDeltas = [0, ...samples.map(() => 10_000)];
  const file = path.join(dir, 'turn.cpuprofile');
  fs.writeFileSync(file, JSON.stringify({ nodes, startTime: 0, endTime: 100_000, samples, timeDeltas }));
  return file;
}

describe('profile summary', () => {
  it('names the package of a script: ours by folder, node_modules by package (scoped too), node internals, GC', () => {
    expect(packageOf(`file://${root}/dist/store/audit-trail.js`, 'verify')).toBe('ours:store');
    expect(packageOf(`${root}/node_modules/@azure/core-client/dist/commonjs/serializer.js`, 'serialize')).toBe('@azure/core-client');
    expect(packageOf(`${root}/node_modules/better-sqlite3/lib/methods/wrappers.js`, 'prepare')).toBe('better-sqlite3');
    expect(packageOf('node:internal/streams/writable', 'write')).toBe('node:internal');
    expect(packageOf('', '(garbage collector)')).toBe('(gc)');
    expect(packageOf('', 'writev')).toBe('(native)');
  });

  it('adds self time per function and package, time per package with what it called, and leaves idle out', () => {
    const s = summariseProfile(writeProfile());
    expect(s.totalMs).toBe(100);
    expect(s.busyMs).toBe(80);
    const pkg = Object.fromEntries(s.packages.map((l) => [l.name, l.ms]));
    expect(pkg).toEqual({ 'ours:bot': 30, restify: 30, '@microsoft/teams-ai': 10, '(gc)': 10 });
    const total = Object.fromEntries(s.packagesTotal.map((l) => [l.name, l.ms]));
    expect(total['ours:bot']).toBe(70);
    expect(total['@microsoft/teams-ai']).toBe(40);
    expect(total.restify).toBe(30);
    expect(s.functions[0]).toMatchObject({ ms: 30 });
    expect(s.oursTotal).toEqual([{ name: 'run dist/bot/app.js:10', ms: 70, share: 70 / 80 }]);
  });

  it('leaves out the first milliseconds when asked (start-up, warm-up)', () => {
    const s = summariseProfile(writeProfile(), 25, 15);
    // Samples at 0 and 10 ms are skipped: two of our route's 10 ms.
    expect(s.busyMs).toBe(60);
    expect(s.packages.find((l) => l.name === 'ours:bot')?.ms).toBe(10);
  });
});
