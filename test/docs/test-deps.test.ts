import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(__dirname, '../../tools/test-deps.sh');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A folder of stand-in commands put first on PATH: `apt-get` records that it was called. */
function fakeBin(extra: Record<string, string> = {}): { bin: string; aptLog: string } {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'test-deps-'));
  dirs.push(bin);
  const aptLog = path.join(bin, 'apt.log');
  const scripts: Record<string, string> = { 'apt-get': `echo "$@" >> ${aptLog}\nexit 0`, ...extra };
  for (const [name, body] of Object.entries(scripts)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return { bin, aptLog };
}

function run(bin: string, env: Record<string, string> = {}) {
  return spawnSync('bash', [SCRIPT], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env } });
}

describe('tools/test-deps.sh', () => {
  it('returns at once, without asking apt, when everything the tests need is installed', () => {
    const { bin, aptLog } = fakeBin();
    const r = run(bin);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.existsSync(aptLog)).toBe(false);
  });

  it('not root: stops with the one command to run, and installs nothing', () => {
    const { bin, aptLog } = fakeBin({ id: 'echo 1000' });
    const r = run(bin, { CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('missing: chromium');
    expect(r.stderr).toContain("sudo sh -c 'apt-get update -qq && apt-get install -y -qq chromium samba samba-ad-dc samba-ad-provision iproute2'");
    expect(fs.existsSync(aptLog)).toBe(false);
  });

  it('root with apt-get: installs the Debian packages, and fails when they are still missing after', () => {
    const { bin, aptLog } = fakeBin({ id: 'echo 0' });
    const r = run(bin, { CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(fs.readFileSync(aptLog, 'utf8').trim().split('\n')).toEqual(['update -qq', 'install -y -qq chromium samba samba-ad-dc samba-ad-provision iproute2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Still missing after the install: chromium');
  });

  it('runs before the typecheck in npm test, and in CI instead of its own apt lines', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    expect(pkg.scripts.pretest).toBe('bash tools/test-deps.sh && npm run -s typecheck');
    const ci = fs.readFileSync(path.resolve(__dirname, '../../.ci/run'), 'utf8');
    expect(ci).toContain('bash tools/test-deps.sh');
    expect(ci).not.toMatch(/apt-get/);
  });
});
