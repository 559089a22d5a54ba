import fs from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { loadDotEnv } from '../bot/config';
import { packageVersion } from '../bot/version';

/**
 * Builds the Teams app package: `manifest.json` with the bot's Microsoft App id filled in,
 * plus the two icons, zipped flat as Teams expects. `npm run package` runs {@link main}.
 */

/** Used when `BOT_ID` is not set; a package built with it can only be side-loaded for local testing. */
export const LOCAL_BOT_ID = '00000000-0000-0000-0000-000000000000';

/** The files of the package, all at the zip root. */
export const PACKAGE_FILES = ['manifest.json', 'color.png', 'outline.png'] as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PLACEHOLDER = /\$\{\{\s*([A-Za-z0-9_]*)\s*\}\}/g;
// Teams wants major.minor.patch; the store refuses pre-release tags.
const APP_VERSION = /^\d+\.\d+\.\d+$/;

/** A package that cannot be built; the message names what is wrong. */
export class AppPackageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppPackageError';
  }
}

/**
 * The folder holding `manifest.json` and the icons. This module runs from the sources
 * (`appPackage/`) and compiled (`dist/appPackage/`), and tsc does not copy the template and
 * the PNGs, so look next to this file first, then in the sources from `dist/`.
 */
export function appPackageDir(): string {
  const candidates = [__dirname, path.resolve(__dirname, '..', '..', 'appPackage')];
  const found = candidates.find((dir) => PACKAGE_FILES.every((file) => fs.existsSync(path.join(dir, file))));
  if (!found) throw new AppPackageError(`${PACKAGE_FILES.join(', ')} not found together in ${candidates.join(' or ')}`);
  return found;
}

/** Where `npm run package` writes the zip (git-ignored). */
export function defaultOutFile(): string {
  return path.join(appPackageDir(), 'build', 'northwind-helpdesk.zip');
}

/**
 * The bot id to package: `BOT_ID` (the bot's Microsoft App id), or {@link LOCAL_BOT_ID}
 * when it is unset or blank, as the bot itself treats it.
 */
export function botIdFromEnv(env: NodeJS.ProcessEnv = process.env): { botId: string; local: boolean } {
  const raw = env.BOT_ID?.trim();
  if (!raw) return { botId: LOCAL_BOT_ID, local: true };
  return { botId: checkBotId(raw), local: false };
}

function checkBotId(botId: string): string {
  const id = botId.trim();
  if (!GUID.test(id)) {
    throw new AppPackageError(
      `BOT_ID must be the bot's Microsoft App id, a GUID such as ${LOCAL_BOT_ID}; got ${JSON.stringify(botId)}`,
    );
  }
  return id;
}

/** The manifest as far as the build reads it. */
export interface AppManifest {
  version: string;
  id: string;
  bots?: Array<{ botId: string }>;
  icons: { color: string; outline: string };
  [key: string]: unknown;
}

/**
 * Fills the manifest template: every `${{BOT_ID}}` becomes `botId`, and `version`, when
 * given, replaces the template's. Refuses a template with any other placeholder left.
 */
export function renderManifest(template: string, options: { botId: string; version?: string }): AppManifest {
  const botId = checkBotId(options.botId);
  const filled = template.replace(PLACEHOLDER, (whole, name: string) => (name === 'BOT_ID' ? botId : whole));
  const left = [...new Set([...filled.matchAll(PLACEHOLDER)].map((m) => m[0]))];
  if (left.length) {
    throw new AppPackageError(`manifest.json still has placeholder(s) ${left.join(', ')} after filling BOT_ID; refusing to write the package`);
  }
  let manifest: AppManifest;
  try {
    manifest = JSON.parse(filled) as AppManifest;
  } catch (err) {
    throw new AppPackageError(`manifest.json is not valid JSON: ${(err as Error).message}`);
  }
  if (options.version !== undefined) {
    if (!APP_VERSION.test(options.version)) {
      throw new AppPackageError(`The app version must look like 1.2.3 (major.minor.patch); got ${JSON.stringify(options.version)}`);
    }
    manifest.version = options.version;
  }
  if (manifest.id !== botId || !manifest.bots?.length || manifest.bots.some((b) => b.botId !== botId)) {
    throw new AppPackageError('manifest.json must use ${{BOT_ID}} for the app id and for every bot id');
  }
  if (manifest.icons?.color !== 'color.png' || manifest.icons?.outline !== 'outline.png') {
    throw new AppPackageError('manifest.json icons must be color.png and outline.png, the files the package contains');
  }
  return manifest;
}

export interface BuildOptions {
  /** The bot's Microsoft App id (a GUID). */
  botId: string;
  /** The app version (major.minor.patch); the template's when absent. */
  version?: string;
  /** Where to write the zip; {@link defaultOutFile} when absent. */
  outFile?: string;
  /** The folder with manifest.json and the icons; {@link appPackageDir} when absent. */
  sourceDir?: string;
}

/** Builds the zip: manifest.json, color.png and outline.png at its root. Nothing is written on error. */
export async function buildAppPackage(options: BuildOptions): Promise<{ outFile: string; manifest: AppManifest }> {
  const sourceDir = options.sourceDir ?? appPackageDir();
  const outFile = path.resolve(options.outFile ?? defaultOutFile());
  const template = await fs.promises.readFile(path.join(sourceDir, 'manifest.json'), 'utf8');
  const manifest = renderManifest(template, { botId: options.botId, ...(options.version !== undefined ? { version: options.version } : {}) });

  const zip = new AdmZip();
  zip.addFile('manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));
  for (const icon of ['color.png', 'outline.png'] as const) {
    const file = path.join(sourceDir, icon);
    if (!fs.existsSync(file)) throw new AppPackageError(`${icon} not found in ${sourceDir}`);
    zip.addFile(icon, await fs.promises.readFile(file));
  }

  // Write next to the target, then rename, so a failed build never leaves a half zip behind.
  await fs.promises.mkdir(path.dirname(outFile), { recursive: true });
  const temp = `${outFile}.${process.pid}.tmp`;
  try {
    await fs.promises.writeFile(temp, await zip.toBufferPromise());
    await fs.promises.rename(temp, outFile);
  } catch (err) {
    await fs.promises.rm(temp, { force: true });
    throw err;
  }
  return { outFile, manifest };
}

/**
 * `npm run package`: builds the zip from `BOT_ID` (environment or `.env`, like the bot) and
 * package.json's version; returns the exit code.
 */
export async function main(): Promise<number> {
  try {
    loadDotEnv();
    const { botId, local } = botIdFromEnv(process.env);
    if (local) {
      process.stderr.write(
        `Warning: BOT_ID is not set, so the package uses the placeholder id ${LOCAL_BOT_ID}. ` +
          'It is for local testing only; set BOT_ID to the bot\'s Microsoft App id to build a package for Teams.\n',
      );
    }
    const { outFile } = await buildAppPackage({ botId, version: packageVersion() });
    process.stdout.write(`Teams app package written to ${outFile}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof AppPackageError ? err.message : `Packaging failed: ${(err as Error).stack ?? err}`}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
