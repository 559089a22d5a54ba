import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { DemoTenant, DemoUser } from '../directory/demo-tenant';
import { APP_NAME } from './deps';

/**
 * Local multi-persona chat: one Microsoft 365 Agents Playground (Microsoft's local,
 * Teams-like chat client for bots) per demo persona, all pointed at the one local bot.
 *
 * Each instance has its own port and its own mock-data file, so the employee, the manager,
 * the technician and a resource owner each get their own browser tab, their own personal chat with the bot
 * (their own serviceUrl, so proactive messages land in the right tab) and, for the
 * technician, the "Identity Operations" team with a "Helpdesk" channel.
 *
 * The playground is a devDependency: a production install does not have it, and
 * {@link startPlaygrounds} says so.
 */

export type PersonaKey = 'employee' | 'manager' | 'technician' | 'owner';

/** In port order: the employee on the base port, then the manager, the technician, the resource owner. */
export const PERSONA_KEYS: readonly PersonaKey[] = ['employee', 'manager', 'technician', 'owner'];

/** Default port of each persona's playground (the base port and the next three). */
export const DEFAULT_PLAYGROUND_BASE_PORT = 56150;

/** Name and channel of the technicians' team in the technician's playground. */
export const TECHNICIAN_TEAM_NAME = 'Identity Operations';
export const TECHNICIAN_CHANNEL_NAME = 'Helpdesk';

/** One demo persona as the playground shows it. */
export interface Persona {
  key: PersonaKey;
  user: DemoUser;
  port: number;
  /** True: the persona's team is the technicians' team, with the Helpdesk channel. */
  withTeam: boolean;
}

/** A running persona playground, as printed for the person at the keyboard. */
export interface RunningPersona {
  key: PersonaKey;
  name: string;
  upn: string;
  /** Open this in a browser. */
  url: string;
  /** The playground's own log (why it stopped, if it did). */
  logFile: string;
}

export interface StartPlaygroundsOptions {
  tenant: DemoTenant;
  /** The bot's messaging endpoint, e.g. `http://127.0.0.1:3978/api/messages`. */
  botEndpoint: string;
  /** The bot's id as the playground presents it (`recipient.id`). */
  botId: string;
  /** Each persona's files go to `${dataDir}/playground/<persona>/`. */
  dataDir: string;
  /** Employee on this port, then manager, technician and resource owner on the next three. */
  basePort?: number;
  /** Per-persona ports, overriding `basePort`. */
  ports?: Partial<Record<PersonaKey, number>>;
  /** Which personas to start; all four by default. */
  only?: readonly PersonaKey[];
  /** How long to wait for each instance to answer HTTP. */
  readyTimeoutMs?: number;
  /** Receives the playgrounds' output and lifecycle lines. */
  log?: (line: string) => void;
}

export interface RunningPlaygrounds {
  personas: RunningPersona[];
  /** Stops every instance (its whole process group) and waits until they have exited. */
  stop(): Promise<void>;
}

/** The playground package is missing (an install without devDependencies). */
export class PlaygroundNotInstalledError extends Error {
  constructor(cause: unknown) {
    super(
      'The local chat (the @microsoft/m365agentsplayground package) is not installed: it is a development dependency, ' +
        'left out by "npm install --omit=dev" or NODE_ENV=production. Run "npm install" to add it, or set PLAYGROUND=false ' +
        `to run the bot alone. (${String((cause as Error)?.message ?? cause).split('\n')[0]})`,
    );
    this.name = 'PlaygroundNotInstalledError';
  }
}

/** The four demo personas with their ports: the employee on `basePort`, then manager, technician, owner. */
export function demoPersonas(
  tenant: DemoTenant,
  basePort: number = DEFAULT_PLAYGROUND_BASE_PORT,
  ports: Partial<Record<PersonaKey, number>> = {},
): Persona[] {
  return PERSONA_KEYS.map((key, i) => ({
    key,
    user: userById(tenant, tenant.personas[key]),
    port: ports[key] ?? basePort + i,
    withTeam: key === 'technician',
  }));
}

// ---------------------------------------------------------------------------------------
// Mock data

/** The playground's user record (its field is spelt `userPrincipleName`). */
type PlaygroundUser = {
  id: string;
  name: string;
  userPrincipleName: string;
  aadObjectId: string;
  givenName: string;
  surname: string;
  email: string;
};

/** The playground accepts exactly this many users besides the current one. */
const OTHER_USERS = 5;

/**
 * The playground's mock-data file for one persona: the persona is the current user; the
 * five other users (the playground wants exactly five, all distinct from the current user)
 * are the other personas first, then people around this one (manager, reports, fellow
 * technicians, peers). Conversation ids are derived from directory ids, so a restart
 * reuses the same conversations (and the bot's state for them).
 */
export function playgroundConfigYaml(tenant: DemoTenant, persona: Persona, botId: string): string {
  const me = persona.user;
  const others = relatedUsers(tenant, persona).map(playgroundUser);
  const team = persona.withTeam ? technicianTeam(tenant) : departmentTeam(tenant, me);
  const doc: YamlMap = {
    version: '0.1.1',
    tenantId: tenant.tenantId,
    bot: { id: botId, name: APP_NAME },
    currentUser: playgroundUser(me),
    users: others,
    personalChat: { id: `a:helpdesk-personal-${me.id}` },
    groupChat: { id: `19:helpdesk-group-${me.id}@thread.v2`, name: `${tenant.organization} helpdesk chat` },
    team,
  };
  return `# Mock data for the ${persona.key} persona (${me.displayName}) of the local chat.\n` +
    '# Generated on every start; edits are overwritten.\n' +
    toYaml(doc);
}

/** Teams-style user id (`29:` + an opaque id); the directory id travels as `aadObjectId`. */
function playgroundUser(u: DemoUser): PlaygroundUser {
  const [first, ...rest] = u.displayName.split(/\s+/);
  return {
    id: `29:${u.id}`,
    name: u.displayName,
    userPrincipleName: u.userPrincipalName,
    aadObjectId: u.id,
    givenName: u.givenName ?? first ?? u.displayName,
    surname: u.surname ?? rest.join(' '),
    email: u.mail ?? u.userPrincipalName,
  };
}

function relatedUsers(tenant: DemoTenant, persona: Persona): DemoUser[] {
  const me = persona.user;
  const byId = new Map(tenant.users.map((u) => [u.id, u]));
  const technicians = tenant.groups.find((g) => g.id === tenant.technicianGroupId)?.members ?? [];
  const candidates: string[] = [
    ...PERSONA_KEYS.filter((k) => k !== persona.key).map((k) => tenant.personas[k]),
    ...(me.managerId ? [me.managerId] : []),
    ...tenant.users.filter((u) => u.managerId === me.id).map((u) => u.id),
    ...(persona.key === 'technician' ? technicians : []),
    ...tenant.users.filter((u) => me.managerId !== null && u.managerId === me.managerId).map((u) => u.id),
    ...technicians,
    ...tenant.users.map((u) => u.id),
  ];
  const picked: DemoUser[] = [];
  const seen = new Set<string>([me.id]);
  // Enabled accounts first: a disabled one is only a filler of last resort.
  for (const enabledOnly of [true, false]) {
    for (const id of candidates) {
      const u = byId.get(id);
      if (!u || seen.has(id) || (enabledOnly && !u.accountEnabled)) continue;
      seen.add(id);
      picked.push(u);
      if (picked.length === OTHER_USERS) return picked;
    }
  }
  throw new Error(`The demo tenant needs at least ${OTHER_USERS + 1} users for the local chat; it has ${tenant.users.length}.`);
}

function technicianTeam(tenant: DemoTenant): YamlMap {
  const groupId = tenant.technicianGroupId;
  return {
    id: `19:helpdesk-team-${groupId}@thread.tacv2`,
    name: TECHNICIAN_TEAM_NAME,
    aadGroupId: groupId,
    channels: [{ id: `19:helpdesk-channel-${groupId}@thread.tacv2`, name: TECHNICIAN_CHANNEL_NAME }],
  };
}

/**
 * Everyone else gets a team for their department (the file format requires a team): the
 * department's group if there is one, never the technicians' group or a privileged one,
 * so the bot does not take it for the technicians' team.
 */
function departmentTeam(tenant: DemoTenant, me: DemoUser): YamlMap {
  const excluded = new Set([tenant.technicianGroupId, ...tenant.privilegedGroupIds]);
  const mine = tenant.groups.filter((g) => g.members.includes(me.id) && !excluded.has(g.id));
  const dept = me.department?.toLowerCase() ?? null;
  const group =
    (dept ? mine.find((g) => g.displayName.toLowerCase().startsWith(dept)) : undefined) ??
    [...mine].sort((a, b) => a.members.length - b.members.length)[0];
  const name = group?.displayName ?? me.department ?? tenant.organization;
  const aadGroupId = group?.id ?? uuidFrom(`team:${tenant.tenantId}:${name}`);
  return { id: `19:helpdesk-team-${aadGroupId}@thread.tacv2`, name, aadGroupId, channels: [] };
}

/** A stable GUID-shaped id from a seed. */
function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function userById(tenant: DemoTenant, id: string): DemoUser {
  const u = tenant.users.find((x) => x.id === id);
  if (!u) throw new Error(`The demo tenant's persona ${id} is not one of its users.`);
  return u;
}

// A tiny YAML emitter: block mappings and sequences, every string double-quoted. A JSON
// string literal is a valid YAML double-quoted scalar, so quoting is JSON.stringify.
type YamlScalar = string | number | boolean | null;
type YamlValue = YamlScalar | YamlValue[] | YamlMap;
interface YamlMap {
  [key: string]: YamlValue;
}

function toYaml(doc: YamlMap): string {
  return `${yamlMapping(doc, '').join('\n')}\n`;
}

function yamlScalar(v: YamlScalar): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function yamlKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k);
}

function yamlMapping(map: YamlMap, indent: string): string[] {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(map)) {
    if (v === undefined) continue;
    const key = `${indent}${yamlKey(k)}:`;
    if (Array.isArray(v)) {
      if (v.length === 0) lines.push(`${key} []`);
      else lines.push(key, ...yamlSequence(v, `${indent}  `));
    } else if (v !== null && typeof v === 'object') {
      if (Object.keys(v).length === 0) lines.push(`${key} {}`);
      else lines.push(key, ...yamlMapping(v, `${indent}  `));
    } else {
      lines.push(`${key} ${yamlScalar(v)}`);
    }
  }
  return lines;
}

function yamlSequence(items: YamlValue[], indent: string): string[] {
  const lines: string[] = [];
  for (const item of items) {
    if (item !== null && typeof item === 'object' && (Array.isArray(item) ? item.length > 0 : Object.keys(item).length > 0)) {
      // The first line of the nested block takes the "- " in place of its indentation.
      const inner = Array.isArray(item) ? yamlSequence(item, `${indent}  `) : yamlMapping(item, `${indent}  `);
      inner[0] = `${indent}- ${inner[0]!.slice(indent.length + 2)}`;
      lines.push(...inner);
    } else if (Array.isArray(item)) {
      lines.push(`${indent}- []`);
    } else if (item !== null && typeof item === 'object') {
      lines.push(`${indent}- {}`);
    } else {
      lines.push(`${indent}- ${yamlScalar(item)}`);
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------
// Processes

const PLAYGROUND_PACKAGE = '@microsoft/m365agentsplayground';
const PLAYGROUND_BIN = 'agentsplayground';
const DEFAULT_READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
/** Where the playground writes its log, relative to its working directory. */
const PLAYGROUND_LOG = path.join('devTools', 'm365agentsplayground.log');

/** The playground's command-line script, or {@link PlaygroundNotInstalledError}. */
export function resolvePlaygroundCli(): string {
  let manifestPath: string;
  try {
    manifestPath = require.resolve(`${PLAYGROUND_PACKAGE}/package.json`);
  } catch (err) {
    throw new PlaygroundNotInstalledError(err);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[PLAYGROUND_BIN];
  if (!bin) throw new PlaygroundNotInstalledError(new Error(`${PLAYGROUND_PACKAGE} declares no "${PLAYGROUND_BIN}" command`));
  const cli = path.resolve(path.dirname(manifestPath), bin);
  if (!fs.existsSync(cli)) throw new PlaygroundNotInstalledError(new Error(`${cli} is missing`));
  return cli;
}

/**
 * Runs the playground's CLI with two changes, then the CLI itself with the arguments that
 * follow `--`:
 * - Its HTTP server binds to 127.0.0.1. The playground listens on every interface and has
 *   no option for that; since it speaks to the bot as any persona it likes and the local
 *   bot has no authentication, it must not be reachable from the network. `listen(port)`
 *   calls without a host get 127.0.0.1.
 * - Its debug output is dropped. At debug level it copies every message that arrives for a
 *   persona whose browser tab is closed into its log file, text and all: a proactive
 *   message with a one-time secret would end up on disk. Errors (why it stopped) are kept.
 *   It installs its own console.debug at start; the setter swallows that.
 */
function playgroundBootstrap(cli: string): string {
  return [
    "Object.defineProperty(console, 'debug', { configurable: true, get: () => () => undefined, set: () => undefined });",
    "const net = require('node:net');",
    'const listen = net.Server.prototype.listen;',
    'net.Server.prototype.listen = function (...args) {',
    "  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) args.splice(1, 0, '127.0.0.1');",
    "  else if (typeof args[0] === 'number' && args.length > 1 && args[1] == null) args[1] = '127.0.0.1';",
    '  return listen.apply(this, args);',
    '};',
    `process.argv.splice(1, 0, ${JSON.stringify(cli)});`,
    `require(${JSON.stringify(cli)});`,
  ].join('\n');
}

/**
 * Writes each persona's mock data under `${dataDir}/playground/<persona>/`, starts one
 * playground per persona pointed at `botEndpoint`, and resolves once every one answers
 * HTTP. On any failure the instances already started are stopped and the error names the
 * persona and its log file.
 */
export async function startPlaygrounds(options: StartPlaygroundsOptions): Promise<RunningPlaygrounds> {
  const cli = resolvePlaygroundCli();
  const log = options.log ?? (() => undefined);
  const wanted = new Set(options.only ?? PERSONA_KEYS);
  const personas = demoPersonas(options.tenant, options.basePort ?? DEFAULT_PLAYGROUND_BASE_PORT, options.ports).filter((p) =>
    wanted.has(p.key),
  );
  const ports = personas.map((p) => p.port);
  if (new Set(ports).size !== ports.length) throw new Error(`The local chat needs a distinct port per persona; got ${ports.join(', ')}.`);

  const started: Instance[] = [];
  const killAllNow = () => {
    for (const i of started) signalGroup(i.child, 'SIGKILL');
  };
  // Should this process end without stop(), take the playgrounds with it.
  process.once('exit', killAllNow);
  const stopAll = async () => {
    await Promise.all(started.map((i) => stopInstance(i, log)));
    process.removeListener('exit', killAllNow);
  };

  try {
    // The playground would quietly move to a random port: insist on the announced ones.
    for (const persona of personas) {
      if (!(await portIsFree(persona.port))) {
        throw new Error(
          `Port ${persona.port} for the ${persona.key} playground is in use (is another "npm start" still running?). ` +
            'Stop it, or choose other ports with PLAYGROUND_BASE_PORT.',
        );
      }
    }
    for (const persona of personas) {
      const dir = path.join(options.dataDir, 'playground', persona.key);
      fs.mkdirSync(dir, { recursive: true });
      const configPath = path.join(dir, 'm365agentsplayground.yml');
      fs.writeFileSync(configPath, playgroundConfigYaml(options.tenant, persona, options.botId));
      const logFile = path.join(dir, PLAYGROUND_LOG);
      // A stale log would hide why this run failed.
      fs.rmSync(logFile, { force: true });
      const instance = spawnInstance(cli, persona, dir, configPath, logFile, options.botEndpoint, log);
      started.push(instance);
    }
    const timeout = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    await Promise.all(started.map((i) => waitUntilReady(i, timeout, options.botEndpoint)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  for (const i of started) log(`playground ${i.persona.key} (${i.persona.user.displayName}) ready at ${i.url}`);

  let stopping: Promise<void> | null = null;
  return {
    personas: started.map((i) => ({
      key: i.persona.key,
      name: i.persona.user.displayName,
      upn: i.persona.user.userPrincipalName,
      url: i.url,
      logFile: i.logFile,
    })),
    stop: () => (stopping ??= stopAll()),
  };
}

interface Instance {
  persona: Persona;
  child: ChildProcess;
  url: string;
  logFile: string;
  /** Resolves when the process has exited (with its code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited: () => boolean;
  /** The port the playground said it listens on, once it has. */
  listeningPort: () => number | null;
  /** The last lines it printed, for error messages. */
  tail: () => string[];
}

function spawnInstance(
  cli: string,
  persona: Persona,
  dir: string,
  configPath: string,
  logFile: string,
  botEndpoint: string,
  log: (line: string) => void,
): Instance {
  const { port } = persona;
  const child = spawn(
    process.execPath,
    [
      '-e',
      playgroundBootstrap(cli),
      '--',
      'start',
      '--app-endpoint',
      botEndpoint,
      '--channel-id',
      'msteams',
      '--port',
      String(port),
      // The bot calls back to 127.0.0.1, where the playground listens.
      '--service-url',
      `http://127.0.0.1:${port}/_connector`,
      '--disable-telemetry',
    ],
    {
      cwd: dir,
      env: {
        ...process.env,
        TEAMSAPPTESTER_BROWSER: 'none',
        APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
        M365_AGENTS_PLAYGROUND_CONFIG_PATH: configPath,
      },
      // Its own process group, so stop() can end it and anything it starts.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let exited = false;
  let listening: number | null = null;
  const lines: string[] = [];
  const onLine = (line: string) => {
    if (!line.trim()) return;
    lines.push(line);
    if (lines.length > 20) lines.shift();
    const m = /Listening on (\d+)/.exec(line);
    if (m && listening === null) listening = Number(m[1]);
    log(`[playground ${persona.key}] ${line}`);
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split(/\r?\n/);
      buf = parts.pop() ?? '';
      parts.forEach(onLine);
    });
    stream?.on('end', () => onLine(buf));
  }
  const exitedPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      exited = true;
      lines.push(`could not start: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  return {
    persona,
    child,
    url: `http://localhost:${port}`,
    logFile,
    exited: exitedPromise,
    hasExited: () => exited,
    listeningPort: () => listening,
    tail: () => [...lines],
  };
}

async function waitUntilReady(i: Instance, timeoutMs: number, botEndpoint: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const who = `The ${i.persona.key} playground (port ${i.persona.port})`;
  let lastProblem = 'it did not answer yet';
  while (Date.now() < deadline) {
    if (i.hasExited()) {
      const { code, signal } = await i.exited;
      const reason = readFailureReason(i.logFile) ?? i.tail().slice(-3).join(' | ');
      throw new Error(`${who} stopped (${signal ?? `exit code ${code}`}): ${reason || 'no reason given'}. See ${i.logFile}`);
    }
    const listening = i.listeningPort();
    if (listening !== null && listening !== i.persona.port) {
      throw new Error(`${who} listens on port ${listening} instead (port taken meanwhile?). See ${i.logFile}`);
    }
    if (listening !== null) {
      // The mock data is loaded once this answers; a bad file ends the process instead.
      const status = await httpStatus(`http://127.0.0.1:${i.persona.port}/_internal/v1/config`);
      if (status === 200 && !i.hasExited()) return;
      lastProblem = status === null ? 'no connection' : `HTTP ${status}`;
    }
    await sleep(200);
  }
  // It serves its page only once the bot's endpoint answers.
  const waitingForBot = i.tail().some((l) => l.includes('Waiting for connection of endpoint')) || logMentions(i.logFile, 'Waiting for connection of endpoint');
  const hint = waitingForBot ? `; it is still waiting for the bot at ${botEndpoint} (is the bot running?)` : '';
  throw new Error(`${who} did not become ready within ${Math.round(timeoutMs / 1000)} s (${lastProblem}${hint}). See ${i.logFile}`);
}

function logMentions(logFile: string, text: string): boolean {
  try {
    return fs.readFileSync(logFile, 'utf8').includes(text);
  } catch {
    return false;
  }
}

/** The playground's own explanation of why it stopped ("Reason: ..."), if it wrote one. */
function readFailureReason(logFile: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return null;
  }
  const reasons = text.split(/\r?\n/).filter((l) => /^error .*Reason:/.test(l));
  const last = reasons[reasons.length - 1];
  return last ? last.replace(/^error\s+/, '').replace(/[.\s]+$/, '') : null;
}

async function stopInstance(i: Instance, log: (line: string) => void): Promise<void> {
  if (i.hasExited()) return;
  signalGroup(i.child, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
  if ((await Promise.race([i.exited, timer])) === 'timeout') {
    log(`playground ${i.persona.key} ignored SIGTERM; killing it`);
    signalGroup(i.child, 'SIGKILL');
    await i.exited;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function httpStatus(url: string): Promise<number | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
