import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ldapts';

/**
 * A real Active Directory domain controller for tests: Samba's AD DC from Debian's packages
 * (`samba`, `samba-ad-dc`, `samba-ad-provision`), provisioned into a temporary folder, seeded
 * (`samba-seed.py`), started in the foreground and stopped after.
 *
 * Samba's LDAP ports are fixed (389, 636), so each instance listens on its own loopback
 * address (127.x.y.z, added to `lo` for its lifetime): test files and other test runs on the
 * same machine do not collide. Where an address cannot be added, it uses 127.0.0.1.
 *
 * Missing packages are an error with the command that installs them, never a skip.
 */

export const REALM = 'NORTHWIND.EXAMPLE';
export const NETBIOS_DOMAIN = 'NORTHWIND';
export const DC_HOST = 'dc1.northwind.example';
export const BASE_DN = 'DC=northwind,DC=example';
export const ADMIN_PASSWORD = 'Samba-Admin-Passw0rd!';

export interface SambaSeedUser {
  key: string;
  /** OU path below the domain, innermost first: "People,Northwind". */
  ou: string;
  cn: string;
  sam: string;
  upn?: string;
  /** objectGUID to give the account (the seed may; LDAP clients may not). */
  guid?: string;
  password: string;
  enabled?: boolean;
  /** Marked as synchronised to Entra (ms-DS-ConsistencyGuid = objectGUID's bytes). */
  synced?: boolean;
  locked?: boolean;
  mustChange?: boolean;
  /** When the account last logged on (ISO), written as lastLogonTimestamp; none: never. */
  lastLogon?: string | null;
  attrs?: Record<string, string | null>;
  manager?: string;
}

export interface SambaSeedGroup {
  key: string;
  ou: string;
  cn: string;
  sam: string;
  guid?: string;
  attrs?: Record<string, string | null>;
  managedBy?: string;
  /** Keys of users or groups. */
  members?: string[];
}

export interface SambaSeed {
  ous?: string[];
  policy?: { minPwdLength: number; complexity: boolean; historyLength: number; lockoutThreshold: number; lockoutMinutes: number };
  users?: SambaSeedUser[];
  groups?: SambaSeedGroup[];
  serviceAccount?: { cn: string; sam: string; upn: string; password: string; delegateOn: string };
}

export interface SambaDc {
  /** ldaps://<address> */
  url: string;
  address: string;
  /** The name in Samba's self-signed certificate. */
  serverName: string;
  /** Samba's CA certificate (PEM), to trust. */
  ca: string;
  baseDn: string;
  admin: { bindDn: string; password: string };
  /** The seeded least-privilege service account, when the seed has one. */
  service: { bindDn: string; password: string; dn: string } | null;
  /** What the seed created: key -> DN and objectGUID. */
  objects: Record<string, { dn: string; guid: string }>;
  dir: string;
  timings: { provisionMs: number; seedMs: number; startMs: number };
  /** Samba's output so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const SEED_SCRIPT = path.join(__dirname, 'samba-seed.py');
const PACKAGES = 'samba samba-ad-dc samba-ad-provision';

function which(cmd: string, candidates: string[]): string | null {
  for (const c of candidates) if (fs.existsSync(c)) return c;
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** The Samba tools, or an error that says exactly what is missing and how to install it. */
export function sambaTools(): { samba: string; sambaTool: string; python: string } {
  const samba = which('samba', ['/usr/sbin/samba']);
  const sambaTool = which('samba-tool', ['/usr/bin/samba-tool']);
  // samba-tool's own interpreter: the one with Samba's Python bindings.
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null;
  const missing = [!samba && 'samba', !sambaTool && 'samba-tool', !python && '/usr/bin/python3'].filter(Boolean);
  if (python && missing.length === 0) {
    const probe = spawnSync(python, ['-c', 'import samba.samdb'], { encoding: 'utf8' });
    if (probe.status !== 0) missing.push("Samba's Python bindings (python3-samba)");
  }
  if (missing.length > 0 || !samba || !sambaTool || !python) {
    throw new Error(
      `Samba's Active Directory domain controller is needed for these tests and is not installed (missing: ${missing.join(', ')}). ` +
        `Install Debian's packages: apt-get install -y ${PACKAGES} (.ci/run does this).`,
    );
  }
  return { samba, sambaTool, python };
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LANG: 'C.UTF-8' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${args[0] ?? ''} failed (exit ${code}):\n${(err + out).trim().split('\n').slice(-15).join('\n')}`));
    });
    child.stdin.end(options.input ?? '');
  });
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

/** A loopback address of its own, added to `lo`; 127.0.0.1 where that is not allowed. */
async function claimAddress(): Promise<{ address: string; release: () => void }> {
  const ip = which('ip', ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']);
  for (let attempt = 0; ip && attempt < 5; attempt++) {
    const b = crypto.randomBytes(3);
    const address = `127.${64 + (b[0]! % 64)}.${b[1]}.${1 + (b[2]! % 253)}`;
    const add = spawnSync(ip, ['addr', 'add', `${address}/32`, 'dev', 'lo'], { encoding: 'utf8' });
    if (add.status === 0) {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        spawnSync(ip, ['addr', 'del', `${address}/32`, 'dev', 'lo']);
      };
      return { address, release };
    }
    if (!/File exists/i.test(add.stderr)) break;
  }
  if (await portOpen('127.0.0.1', 636)) {
    throw new Error(
      'Cannot start Samba for the tests: no loopback address of its own could be added (ip addr add needs root) and 127.0.0.1:636 is taken.',
    );
  }
  return { address: '127.0.0.1', release: () => undefined };
}

const running = new Set<() => void>();
process.once('exit', () => {
  for (const stop of running) stop();
});

/**
 * Provisions, seeds and starts a Samba AD DC; resolves once it accepts an LDAPS bind.
 * About 5 s on two cores: provisioning is most of it.
 */
export async function startSamba(seed: SambaSeed = {}): Promise<SambaDc> {
  const tools = sambaTools();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samba-dc-'));
  const { address, release } = await claimAddress();
  let child: ChildProcess | undefined;
  let output = '';
  const killNow = () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    release();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  running.add(killNow);
  try {
    const t0 = Date.now();
    const options = {
      interfaces: address,
      'bind interfaces only': 'yes',
      // Only the LDAP server: no SMB, KDC, DNS or RPC, which these tests do not use.
      'server services': 'ldap',
      'pid directory': path.join(dir, 'run'),
      'log file': path.join(dir, 'log.%m'),
      'ncalrpc dir': path.join(dir, 'ncalrpc'),
      'winbindd socket directory': path.join(dir, 'winbindd'),
      'ntp signd socket directory': path.join(dir, 'ntp'),
    };
    await run(tools.sambaTool, [
      'domain',
      'provision',
      `--targetdir=${dir}`,
      `--realm=${REALM}`,
      `--domain=${NETBIOS_DOMAIN}`,
      '--server-role=dc',
      '--dns-backend=NONE',
      `--adminpass=${ADMIN_PASSWORD}`,
      '--option=netbios name=DC1',
      ...Object.entries(options).map(([k, v]) => `--option=${k}=${v}`),
    ], { timeoutMs: 120_000 });
    const conf = path.join(dir, 'etc', 'smb.conf');
    // A reset password replaces the old one at once: by default Samba, like AD over NTLM,
    // still accepts the previous one for an hour (provisioning does not keep this option).
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('[global]\n', '[global]\n\told password allowed period = 0\n'));
    const provisionMs = Date.now() - t0;

    const t1 = Date.now();
    const seedFile = path.join(dir, 'seed.json');
    fs.writeFileSync(seedFile, JSON.stringify(seed));
    const seeded = JSON.parse(await run(tools.python, [SEED_SCRIPT, conf, seedFile], { timeoutMs: 120_000 })) as {
      objects: Record<string, { dn: string; guid: string }>;
      serviceAccountDn?: string;
    };
    const seedMs = Date.now() - t1;

    const t2 = Date.now();
    const started = spawn(tools.samba, ['-i', '-s', conf, '-M', 'single', '--debug-stdout', '-d', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    started.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    started.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    const caFile = path.join(dir, 'private', 'tls', 'ca.pem');
    const deadline = Date.now() + 60_000;
    let ca = '';
    for (;;) {
      if (started.exitCode !== null) throw new Error(`samba exited (${started.exitCode}) while starting:\n${output.split('\n').slice(-20).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`samba did not accept LDAPS within 60 s:\n${output.split('\n').slice(-20).join('\n')}`);
      if (fs.existsSync(caFile) && (await portOpen(address, 636))) {
        ca = fs.readFileSync(caFile, 'utf8');
        const c = new Client({ url: `ldaps://${address}`, tlsOptions: { ca, servername: DC_HOST }, timeout: 2000, connectTimeout: 2000 });
        try {
          await c.bind(`Administrator@${REALM.toLowerCase()}`, ADMIN_PASSWORD);
          break;
        } catch {
          // Not ready yet.
        } finally {
          await c.unbind().catch(() => undefined);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const startMs = Date.now() - t2;
    const sa = seed.serviceAccount;
    const stop = async () => {
      running.delete(killNow);
      if (started.exitCode === null) {
        const exited = new Promise((r) => started.once('exit', r));
        started.kill('SIGTERM');
        const timer = setTimeout(() => started.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      release();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    return {
      url: `ldaps://${address}`,
      address,
      serverName: DC_HOST,
      ca,
      baseDn: BASE_DN,
      admin: { bindDn: `Administrator@${REALM.toLowerCase()}`, password: ADMIN_PASSWORD },
      service: sa && seeded.serviceAccountDn ? { bindDn: sa.upn, password: sa.password, dn: seeded.serviceAccountDn } : null,
      objects: seeded.objects,
      dir,
      timings: { provisionMs, seedMs, startMs },
      log: () => output,
      stop,
    };
  } catch (e) {
    running.delete(killNow);
    killNow();
    throw e;
  }
}
