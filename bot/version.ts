import fs from 'node:fs';
import path from 'node:path';

/** The package version, from package.json (found from sources and from dist/). */
export function packageVersion(): string {
  for (const candidate of [path.resolve(__dirname, '..', 'package.json'), path.resolve(__dirname, '..', '..', 'package.json')]) {
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'iam-helpdesk-bot' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}
