import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { exportAudit, formatEventLine, parseTimeBound, verificationHeader, type ExportFormat } from '../audit-export';
import type { AuditFilter } from '../audit-trail';
import { anchorLine, appendAnchor, type AuditAnchor } from '../audit-anchors';
import { allAnchors, checkAnchors } from '../audit-anchor-check';
import { anchorMirrorConfig, openAnchorMirror, type AnchorMirror } from '../audit-anchor-mirror';
import { openStoreForCli, runCli } from './cli-support';

const USAGE = `Usage: npm run audit -- <command> [options]

Commands:
  verify [--expect SEQ:HASH]     check the hash chain; prints the head to keep as an anchor
         [--anchors FILE]        ... and that the trail still holds every anchor of FILE,
                                 that FILE lost none the trail records writing to it
         [--mirror DIR|URL]      ... and that FILE's mirror agrees (default: $AUDIT_ANCHOR_MIRROR)
                                 Also checks the append-only triggers.
  anchor [--anchors FILE]        verify, then append the head to FILE (default:
                                 $AUDIT_ANCHOR_FILE or audit-anchors.jsonl beside the database)
         [--mirror DIR|URL]      ... and to its mirror (default: $AUDIT_ANCHOR_MIRROR)
  tail [-n N]                    the last N events (default 20)
  export --format csv|jsonl      stream events to standard output
         [--since T] [--until T] [--actor ID|NAME] [--action NAME|PREFIX*]
         [--verify]              (csv) verify the chain first; the result heads the file

Times: 2026-11-01, 2026-11-01T09:00:00Z, or a span back from now: 24h, 7d, 2w.
Options for every command: --db PATH (default: $DATABASE_PATH or ./data/helpdesk.db)`;

/**
 * The audit CLI. Returns the process exit code: 0 fine, 1 the chain is broken, 2 bad usage
 * or an unreadable database.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv, out: Writable, err: Writable): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        n: { type: 'string', short: 'n' },
        format: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        actor: { type: 'string' },
        action: { type: 'string' },
        expect: { type: 'string' },
        anchors: { type: 'string' },
        mirror: { type: 'string' },
        verify: { type: 'boolean' },
      },
    }));
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }

  const opened = openStoreForCli(values.db as string | undefined, env, err);
  if (!opened) return 2;
  const { store, file } = opened;
  try {
    switch (command) {
      case 'verify': {
        let anchor: { seq: number; hash: string } | undefined;
        if (values.expect !== undefined) {
          const m = /^(\d+):([0-9a-f]{64})$/.exec(String(values.expect));
          if (!m) {
            err.write('--expect takes SEQ:HASH as printed by an earlier verify, e.g. 1042:3fa5...\n');
            return 2;
          }
          anchor = { seq: Number(m[1]), hash: m[2]! };
        }
        let anchoredAt: string | null = null;
        let every: AuditAnchor[] = [];
        let fileCount = 0;
        const findings: string[] = [];
        let mirrorNote = '';
        if (values.anchors !== undefined) {
          if (anchor) {
            err.write('Give either --expect or --anchors, not both.\n');
            return 2;
          }
          const anchorFile = path.resolve(String(values.anchors));
          let mirror;
          try {
            mirror = mirrorFor(values.mirror as string | undefined, env, anchorFile);
          } catch (e) {
            err.write(`--mirror (or AUDIT_ANCHOR_MIRROR) ${(e as Error).message}\n`);
            return 2;
          }
          const found = await checkAnchors(store.audit, anchorFile, mirror);
          const refused = found.alarms.filter((a) => a.kind === 'refused');
          const missing = found.alarms.filter((a) => a.kind !== 'refused');
          // A file that does not read, or that never held an anchor while nothing says one
          // was written: nothing to verify against (exit 2). Anchors that were written and are
          // gone are a finding (exit 1), never "no anchors yet".
          if (refused.length && !missing.length && !mirror) {
            err.write(`${refused.map((a) => a.message).join('\n')}\n`);
            return 2;
          }
          every = allAnchors(found);
          if (!every.length && !found.alarms.length) {
            err.write(fs.existsSync(anchorFile) ? `${String(values.anchors)} holds no anchor yet.\n` : `cannot read the anchor file ${anchorFile}: it does not exist, and the trail records no anchor written to it.\n`);
            return 2;
          }
          findings.push(...found.alarms.map((a) => `ANCHORS: ${a.message}`));
          const newest = found.file.at(-1);
          anchoredAt = newest?.at ?? null;
          anchor = newest;
          fileCount = found.file.length;
          if (mirror && found.mirror && !found.alarms.length) mirrorNote = `The mirror ${mirror.where} agrees with the anchor file (${found.mirror.length} of its ${found.file.length} anchors${found.pending.length ? `; ${found.pending.length} not copied yet` : ''}).\n`;
        }
        findings.unshift(...store.audit.guardProblems().map((g) => `GUARDS: the trigger ${g.trigger} is ${g.problem === 'unexpected' ? 'not one of the trail’s guards' : g.problem}`));
        // Every anchor, not only the newest: a chain rewritten and anchored again afterwards
        // still fails at the older ones, and so does an edited line.
        const result = store.audit.verify(every.length ? every : anchor);
        if (result.ok) {
          out.write(`OK: ${result.count} events, chain intact. Head ${result.headSeq}:${result.headHash}\n`);
          if (anchoredAt) out.write(`The trail still holds the anchor of ${anchoredAt} (event ${anchor!.seq})${fileCount > 1 ? ` and the ${fileCount - 1} before it` : ''}.\n`);
          out.write(mirrorNote);
        } else {
          out.write(`FAILED at event ${result.firstBadSeq}: ${result.reason} (${result.count} events verified before it)\n`);
        }
        for (const f of findings) out.write(`FAILED: ${f}\n`);
        return result.ok && !findings.length ? 0 : 1;
      }
      case 'anchor': {
        const anchorFile = path.resolve((values.anchors as string | undefined) ?? env.AUDIT_ANCHOR_FILE ?? path.join(path.dirname(file), 'audit-anchors.jsonl'));
        let mirror: AnchorMirror | null;
        try {
          mirror = mirrorFor(values.mirror as string | undefined, env, anchorFile);
        } catch (e) {
          err.write(`--mirror (or AUDIT_ANCHOR_MIRROR) ${(e as Error).message}\n`);
          return 2;
        }
        // The anchors already kept must still hold, and none may be gone: a rewritten chain is
        // not anchored, and a deleted or cut anchor file is not quietly started afresh.
        const found = await checkAnchors(store.audit, anchorFile, mirror);
        const refused = found.alarms.filter((a) => a.kind === 'refused');
        const missing = found.alarms.filter((a) => a.kind === 'missing');
        if (refused.length && !missing.length && !mirror) {
          err.write(`${refused.map((a) => a.message).join('\n')}\nNothing was anchored.\n`);
          return 2;
        }
        if (refused.length || missing.length) {
          for (const a of [...missing, ...refused]) out.write(`FAILED: ANCHORS: ${a.message}\n`);
          out.write('Nothing was anchored.\n');
          return 1;
        }
        const result = store.audit.verify(allAnchors(found));
        if (!result.ok) {
          out.write(`FAILED at event ${result.firstBadSeq}: ${result.reason}. Nothing was anchored.\n`);
          return 1;
        }
        if (result.count === 0) {
          out.write('The audit trail is empty: nothing to anchor.\n');
          return 0;
        }
        const anchor = { seq: result.headSeq, hash: result.headHash, at: new Date().toISOString() };
        appendAnchor(anchorFile, anchor);
        out.write(`Anchored head ${result.headSeq}:${result.headHash} in ${anchorFile}\n`);
        if (mirror) {
          if (!found.mirror) {
            out.write(`The mirror ${mirror.where} could not be read (${found.alarms.map((a) => a.message).join('; ')}): the bot's anchor job copies the anchor there when it can.\n`);
            return 1;
          }
          try {
            await mirror.append([...found.pending, anchor].map(anchorLine).join(''), found.mirrorBytes);
            out.write(`... and in its mirror ${mirror.where}\n`);
          } catch (e) {
            out.write(`The mirror was not written: ${(e as Error).message}; the bot's anchor job copies the anchor there when it can.\n`);
            return 1;
          }
        }
        return 0;
      }
      case 'tail': {
        const n = values.n === undefined ? 20 : Number(values.n);
        if (!Number.isInteger(n) || n < 1 || n > 10_000) {
          err.write('-n takes a whole number from 1 to 10000\n');
          return 2;
        }
        const events = store.audit.tail(n);
        if (events.length === 0) out.write('The audit trail is empty.\n');
        for (const e of events) out.write(formatEventLine(e) + '\n');
        return 0;
      }
      case 'export': {
        const format = values.format as string | undefined;
        if (format !== 'csv' && format !== 'jsonl') {
          err.write('export needs --format csv or --format jsonl\n');
          return 2;
        }
        const filter: AuditFilter = {};
        try {
          if (values.since) filter.since = parseTimeBound(String(values.since));
          if (values.until) filter.until = parseTimeBound(String(values.until));
        } catch (e) {
          err.write(`${(e as Error).message}\n`);
          return 2;
        }
        if (values.actor) filter.actor = String(values.actor);
        if (values.action) filter.action = String(values.action);
        if (values.verify) {
          if (format !== 'csv') {
            err.write('--verify goes with --format csv\n');
            return 2;
          }
          out.write(verificationHeader(store.audit.verify(), filter).join('\n') + '\n');
        }
        await exportAudit(store.audit, out, format as ExportFormat, filter);
        return 0;
      }
      default:
        err.write(`Unknown command "${command}".\n\n${USAGE}\n`);
        return 2;
    }
  } finally {
    store.close();
  }
}

/** The mirror of `anchorFile` to compare: `--mirror`, else `$AUDIT_ANCHOR_MIRROR`, else none. */
function mirrorFor(option: string | undefined, env: NodeJS.ProcessEnv, anchorFile: string): AnchorMirror | null {
  const location = option ?? env.AUDIT_ANCHOR_MIRROR;
  if (!location?.trim()) return null;
  return openAnchorMirror(anchorMirrorConfig(location, anchorFile, env.AUDIT_ANCHOR_MIRROR_CA_FILE ? path.resolve(env.AUDIT_ANCHOR_MIRROR_CA_FILE) : null));
}

if (require.main === module) runCli('audit', main);
