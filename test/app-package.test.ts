import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import AdmZip from 'adm-zip';
import type AjvClass from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppPackageError,
  LOCAL_BOT_ID,
  appPackageDir,
  botIdFromEnv,
  buildAppPackage,
  renderManifest,
} from '../appPackage/build-package';

const SOURCE_DIR = path.resolve(__dirname, '..', 'appPackage');
const TEMPLATE = fs.readFileSync(path.join(SOURCE_DIR, 'manifest.json'), 'utf8');
const BOT_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

// ---------------------------------------------------------------------------------------------
// The official Teams manifest schema, from @microsoft/app-manifest, with no network.

const MANIFEST_PKG_DIR = path.dirname(require.resolve('@microsoft/app-manifest/package.json'));
const SCHEMAS_DIR = path.join(MANIFEST_PKG_DIR, 'build', 'json-schemas', 'teams');

/** The schema folder (`v1.24`) named by the manifest's `$schema` URL. */
function schemaVersionOf(manifest: Record<string, unknown>): string {
  const m = /\/json-schemas\/teams\/(v\d+\.\d+)\/MicrosoftTeams\.schema\.json$/.exec(String(manifest.$schema));
  if (!m) throw new Error(`unexpected $schema ${String(manifest.$schema)}`);
  return m[1]!;
}

/**
 * Compiles the schema with the Ajv class for its draft. The Teams schemas are draft-04, which
 * Ajv 8 handles only through ajv-draft-04 (the validator @microsoft/app-manifest itself uses).
 * Other schema files it references by URL are loaded from the same folder.
 */
function compileTeamsSchema(version: string): { validate: ValidateFunction; schema: Record<string, unknown> } {
  const dir = path.join(SCHEMAS_DIR, version);
  const read = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
  const schema = read('MicrosoftTeams.schema.json');
  const draft = String(schema.$schema);
  let Ajv: typeof AjvClass;
  if (draft.includes('draft-04')) {
    Ajv = require('ajv-draft-04') as typeof AjvClass;
  } else if (draft.includes('2020-12')) {
    Ajv = (require('ajv/dist/2020') as { default: typeof AjvClass }).default;
  } else {
    Ajv = (require('ajv') as { default: typeof AjvClass }).default;
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  for (const ref of externalRefs(schema)) {
    const file = path.basename(ref.split('#')[0]!);
    if (!fs.existsSync(path.join(dir, file))) throw new Error(`schema references ${ref}, not shipped in ${dir}`);
    if (!ajv.getSchema(ref.split('#')[0]!)) ajv.addSchema(read(file), ref.split('#')[0]!);
  }
  return { validate: ajv.compile(schema), schema };
}

function externalRefs(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => externalRefs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && !v.startsWith('#')) out.add(v);
      else externalRefs(v, out);
    }
  }
  return out;
}

const describeErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n');

// ---------------------------------------------------------------------------------------------
// A small PNG reader: chunks with CRC check, IHDR, and 8-bit non-interlaced pixels.

interface Png {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlace: number;
  /** RGBA, 4 bytes a pixel. */
  rgba?: Uint8Array;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
// zlib.crc32 only exists from Node 20.15.
function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function readPng(buf: Buffer, decodePixels = true): Png {
  if (!buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG (bad signature)');
  let offset = 8;
  let header: Png | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (offset < buf.length && !ended) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    const crc = buf.readUInt32BE(offset + 8 + length);
    if (crc32(buf.subarray(offset + 4, offset + 8 + length)) !== crc) throw new Error(`bad CRC in ${type} chunk`);
    if (offset === 8 && type !== 'IHDR') throw new Error('first chunk is not IHDR');
    if (type === 'IHDR') {
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        bitDepth: data[8]!,
        colourType: data[9]!,
        interlace: data[12]!,
      };
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    offset += 12 + length;
  }
  if (!header || !ended) throw new Error('PNG without IHDR or IEND');
  if (!decodePixels) return header;
  const channels = CHANNELS[header.colourType];
  if (header.bitDepth !== 8 || channels === undefined || header.interlace !== 0) {
    throw new Error(`unsupported PNG: bit depth ${header.bitDepth}, colour type ${header.colourType}, interlace ${header.interlace}`);
  }
  const { width, height } = header;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`pixel data is ${raw.length} bytes, expected ${height * (stride + 1)}`);
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0;
      let v: number;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default: throw new Error(`bad filter type ${filter} on row ${y}`);
      }
      pixels[y * stride + i] = v & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const s = pixels.subarray(p * channels, p * channels + channels);
    const [r, g, b, alpha] =
      channels === 1 ? [s[0]!, s[0]!, s[0]!, 255] :
      channels === 2 ? [s[0]!, s[0]!, s[0]!, s[1]!] :
      channels === 3 ? [s[0]!, s[1]!, s[2]!, 255] :
      [s[0]!, s[1]!, s[2]!, s[3]!];
    rgba.set([r, g, b, alpha], p * 4);
  }
  return { ...header, rgba };
}

const pixelAt = (png: Png, x: number, y: number) => Array.from(png.rgba!.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));

/** Pixels that break the outline rule: each must be white or fully transparent. */
function nonWhiteVisiblePixels(png: Png): Array<{ x: number; y: number; rgba: number[] }> {
  const bad: Array<{ x: number; y: number; rgba: number[] }> = [];
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const [r, g, b, a] = pixelAt(png, x, y);
      if (a !== 0 && (r !== 255 || g !== 255 || b !== 255)) bad.push({ x, y, rgba: [r!, g!, b!, a!] });
    }
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------

/** Commands the bot answers today; `test/wire/manifest-commands.test.ts` sends each one to the bot. */
const TEAM_COMMANDS = ['help', 'whois', 'groups', 'unlock', 'reset-password', 'tap', 'disable', 'offboard', 'grant', 'pending', 'audit', 'report'];
const PERSONAL_COMMANDS = ['help', 'who am I', 'request access', 'my requests', "what's waiting for me", 'my team', 'reset my password', 'recover my MFA', 'unlock my account', "why can't I sign in", 'audit verify', 'audit tail'];

interface CommandList {
  scopes: string[];
  commands: Array<{ title: string; description: string }>;
}

function commandList(manifest: Record<string, unknown>, scope: string): CommandList {
  const bots = manifest.bots as Array<{ commandLists: CommandList[] }>;
  const lists = bots[0]!.commandLists.filter((l) => l.scopes.includes(scope));
  expect(lists, `command lists for scope ${scope}`).toHaveLength(1);
  return lists[0]!;
}

describe('manifest template', () => {
  const manifest = renderManifest(TEMPLATE, { botId: BOT_ID });
  const version = schemaVersionOf(manifest);
  const { validate, schema } = compileTeamsSchema(version);

  it('names a GA schema version that @microsoft/app-manifest ships, and matches manifestVersion', () => {
    expect(version).toBe('v1.24');
    expect(manifest.manifestVersion).toBe(version.slice(1));
    expect(fs.existsSync(path.join(SCHEMAS_DIR, version, 'MicrosoftTeams.schema.json'))).toBe(true);
  });

  it('is valid against the official schema once BOT_ID is filled in', () => {
    const ok = validate(manifest);
    expect(describeErrors(validate.errors)).toBe('');
    expect(ok).toBe(true);
  });

  it('the schema check catches a manifest Teams would refuse', () => {
    const tooMany = structuredClone(manifest) as Record<string, unknown>;
    const team = commandList(tooMany, 'team');
    const bots = (schema.properties as Record<string, any>).bots.items.properties;
    const max = bots.commandLists.items.properties.commands.maxItems as number;
    team.commands = Array.from({ length: max + 1 }, (_, i) => ({ title: `c${i}`, description: 'd' }));
    expect(validate(tooMany)).toBe(false);
    expect(describeErrors(validate.errors)).toMatch(/commands .*must NOT have more than/);

    const badId = { ...manifest, id: 'not-a-guid' };
    expect(validate(badId)).toBe(false);
    expect(describeErrors(validate.errors)).toMatch(/^\/id /m);
  });

  it('uses ${{BOT_ID}} for the app id and the bot id, and no other placeholder', () => {
    const raw = JSON.parse(TEMPLATE) as { id: string; bots: Array<{ botId: string }> };
    expect(raw.id).toBe('${{BOT_ID}}');
    expect(raw.bots.map((b) => b.botId)).toEqual(['${{BOT_ID}}']);
    expect([...new Set(TEMPLATE.match(/\$\{\{[^}]*\}\}/g))]).toEqual(['${{BOT_ID}}']);
    expect(raw).toMatchObject({ version: '1.0.0' });
  });

  it('declares the bot for personal, team and group chat, without files, not notification-only', () => {
    expect(manifest.bots).toHaveLength(1);
    expect(manifest.bots![0]).toMatchObject({
      scopes: ['personal', 'team', 'groupChat'],
      supportsFiles: false,
      isNotificationOnly: false,
    });
    expect(manifest.permissions).toEqual(['identity', 'messageTeamMembers']);
    expect(manifest.validDomains).toEqual([]);
    expect(manifest.developer).toMatchObject({ name: 'Northwind Traders' });
    for (const key of ['websiteUrl', 'privacyUrl', 'termsOfUseUrl']) {
      expect((manifest.developer as Record<string, string>)[key]).toMatch(/^https:\/\/northwind\.example\//);
    }
  });

  it('lists the employee commands in personal scope', () => {
    expect(commandList(manifest, 'personal').commands.map((c) => c.title)).toEqual(PERSONAL_COMMANDS);
  });

  it('lists the technician commands in team scope, within the schema limit, help first', () => {
    const team = commandList(manifest, 'team');
    const max = (schema.properties as Record<string, any>).bots.items.properties.commandLists.items.properties.commands.maxItems as number;
    const titles = team.commands.map((c) => c.title);
    expect(titles.length).toBeLessThanOrEqual(max);
    expect(titles).toEqual(TEAM_COMMANDS);
    for (const c of team.commands) expect(c.description.trim().length).toBeGreaterThan(0);
  });
});

describe('icons', () => {
  it('color.png is a 192x192 full-colour, opaque PNG', () => {
    const png = readPng(fs.readFileSync(path.join(SOURCE_DIR, 'color.png')));
    expect([png.width, png.height]).toEqual([192, 192]);
    const colours = new Set<string>();
    let transparent = 0;
    for (let p = 0; p < png.width * png.height; p++) {
      const [r, g, b, a] = png.rgba!.subarray(p * 4, p * 4 + 4);
      if (a !== 255) transparent++;
      if (r !== g || g !== b) colours.add(`${r},${g},${b}`);
    }
    expect(transparent).toBe(0);
    expect(colours.size).toBeGreaterThan(1);
  });

  it('outline.png is 32x32, white on a transparent background', () => {
    const png = readPng(fs.readFileSync(path.join(SOURCE_DIR, 'outline.png')));
    expect([png.width, png.height]).toEqual([32, 32]);
    expect(png.colourType === 4 || png.colourType === 6).toBe(true);
    expect(nonWhiteVisiblePixels(png)).toEqual([]);
    expect(pixelAt(png, 0, 0)[3]).toBe(0);
    const opaque = Array.from({ length: 32 * 32 }, (_, p) => png.rgba![p * 4 + 3]!).filter((a) => a === 255).length;
    expect(opaque).toBeGreaterThan(100);
  });

  it('the PNG reader sees real dimensions and catches non-white outline pixels', () => {
    // The colour icon read as an outline icon must fail the outline rule.
    const colour = readPng(fs.readFileSync(path.join(SOURCE_DIR, 'color.png')));
    expect(nonWhiteVisiblePixels(colour).length).toBeGreaterThan(0);
    // A corrupted IHDR is noticed.
    const broken = Buffer.from(fs.readFileSync(path.join(SOURCE_DIR, 'outline.png')));
    broken.writeUInt32BE(33, 16);
    expect(() => readPng(broken, false)).toThrow(/bad CRC in IHDR/);
  });
});

describe('buildAppPackage', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'app-package-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('finds the template folder from the sources', () => {
    expect(appPackageDir()).toBe(SOURCE_DIR);
  });

  it('writes a zip with exactly manifest.json, color.png and outline.png, the bot id filled in everywhere', async () => {
    const outFile = path.join(tmp, 'nested', 'northwind-helpdesk.zip');
    const result = await buildAppPackage({ botId: BOT_ID, version: '2.3.4', outFile });
    expect(result.outFile).toBe(outFile);
    expect(fs.existsSync(outFile)).toBe(true);
    expect(fs.readdirSync(path.dirname(outFile))).toEqual(['northwind-helpdesk.zip']);

    const zip = new AdmZip(outFile);
    const entries = zip.getEntries();
    expect(entries.map((e) => e.entryName).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    expect(entries.every((e) => !e.isDirectory)).toBe(true);

    const text = zip.readAsText('manifest.json');
    expect(text).not.toMatch(/\$\{\{/);
    expect(text.split(BOT_ID).length - 1).toBe(TEMPLATE.split('${{BOT_ID}}').length - 1);
    const manifest = JSON.parse(text) as Record<string, any>;
    expect(manifest.id).toBe(BOT_ID);
    expect(manifest.bots.map((b: { botId: string }) => b.botId)).toEqual([BOT_ID]);
    expect(manifest.version).toBe('2.3.4');
    expect(result.manifest).toEqual(manifest);

    const { validate } = compileTeamsSchema(schemaVersionOf(manifest));
    expect(validate(manifest), describeErrors(validate.errors)).toBe(true);

    for (const icon of ['color.png', 'outline.png']) {
      expect(zip.readFile(icon)!.equals(fs.readFileSync(path.join(SOURCE_DIR, icon)))).toBe(true);
    }
  });

  it("keeps the template's version when none is given", async () => {
    const { manifest } = await buildAppPackage({ botId: BOT_ID, outFile: path.join(tmp, 'default-version.zip') });
    expect(manifest.version).toBe('1.0.0');
  });

  it('refuses a BOT_ID that is not a GUID, naming BOT_ID, and writes nothing', async () => {
    const outFile = path.join(tmp, 'bad-id', 'package.zip');
    await expect(buildAppPackage({ botId: 'my-bot', outFile })).rejects.toThrow(/BOT_ID.*GUID.*"my-bot"/);
    await expect(buildAppPackage({ botId: `${BOT_ID}0`, outFile })).rejects.toBeInstanceOf(AppPackageError);
    expect(fs.existsSync(path.dirname(outFile))).toBe(false);
  });

  it('refuses a template with a placeholder it cannot fill, and writes nothing', async () => {
    const sourceDir = path.join(tmp, 'src-with-extra-placeholder');
    fs.mkdirSync(sourceDir);
    for (const icon of ['color.png', 'outline.png']) fs.copyFileSync(path.join(SOURCE_DIR, icon), path.join(sourceDir, icon));
    fs.writeFileSync(path.join(sourceDir, 'manifest.json'), TEMPLATE.replace('https://northwind.example/helpdesk/privacy', '${{PRIVACY_URL}}'));
    const outFile = path.join(tmp, 'extra', 'package.zip');
    await expect(buildAppPackage({ botId: BOT_ID, outFile, sourceDir })).rejects.toThrow(/\$\{\{PRIVACY_URL\}\}/);
    expect(fs.existsSync(outFile)).toBe(false);
  });

  it('refuses a version Teams would not accept', async () => {
    await expect(buildAppPackage({ botId: BOT_ID, version: '1.0', outFile: path.join(tmp, 'v.zip') })).rejects.toThrow(/major\.minor\.patch/);
    expect(fs.existsSync(path.join(tmp, 'v.zip'))).toBe(false);
  });
});

describe('botIdFromEnv', () => {
  it('uses BOT_ID when it is a GUID', () => {
    expect(botIdFromEnv({ BOT_ID: ` ${BOT_ID} ` })).toEqual({ botId: BOT_ID, local: false });
  });

  it('falls back to the local placeholder when BOT_ID is unset or blank', () => {
    expect(botIdFromEnv({})).toEqual({ botId: LOCAL_BOT_ID, local: true });
    expect(botIdFromEnv({ BOT_ID: '   ' })).toEqual({ botId: LOCAL_BOT_ID, local: true });
  });

  it('refuses a BOT_ID that is not a GUID, naming the variable', () => {
    expect(() => botIdFromEnv({ BOT_ID: 'helpdesk-bot' })).toThrow(/^BOT_ID must be .*GUID/);
  });
});
