import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../bot/config';

describe('DRIFT_CHECK_INTERVAL_HOURS', () => {
  it('is a day by default; 0 turns the scheduled check off', () => {
    expect(loadConfig({}).drift).toEqual({ checkIntervalHours: 24 });
    expect(loadConfig({ DRIFT_CHECK_INTERVAL_HOURS: '6' }).drift.checkIntervalHours).toBe(6);
    expect(loadConfig({ DRIFT_CHECK_INTERVAL_HOURS: '0' }).drift.checkIntervalHours).toBe(0);
    expect(loadConfig({ DRIFT_CHECK_INTERVAL_HOURS: '' }).drift.checkIntervalHours).toBe(24);
  });

  it('refuses what is not a whole number of hours up to 30 days, naming the variable', () => {
    for (const bad of ['-1', '1.5', 'daily', '721']) {
      expect(() => loadConfig({ DRIFT_CHECK_INTERVAL_HOURS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ DRIFT_CHECK_INTERVAL_HOURS: bad })).toThrow(/DRIFT_CHECK_INTERVAL_HOURS/);
    }
  });
});

describe('its documentation', () => {
  it('is in .env.example, docs/configuration.md and its own docs page', () => {
    const envExample = fs.readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
    const configuration = fs.readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');
    const page = fs.readFileSync(path.resolve(__dirname, '../../docs/drift-detection.md'), 'utf8');
    expect(envExample).toMatch(/^DRIFT_CHECK_INTERVAL_HOURS=24$/m);
    expect(configuration).toContain('| `DRIFT_CHECK_INTERVAL_HOURS` | `24` |');
    expect(page).toMatch(/^# Drift detection$/m);
  });
});
