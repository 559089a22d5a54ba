import type { Directory, DirectoryUser } from '../../directory/directory';
import { employeeKey, type HrEmployee } from '../../store/hr-feed';
import type { HrRecord, ParsedLine } from './records';

/**
 * Checks a batch as a whole, before anything is applied: each line must name an account the
 * directory knows, a manager it knows, and no manager loop (across the batch and the
 * directory: a batch line's manager replaces the directory's for that person); an employee id
 * appears once per batch, an account under one employee id, and an employee id keeps its
 * account across batches. Employee ids are compared ignoring case, in the batch and against
 * the stored ones. A line that fails any check is rejected with the reason and changes
 * nothing; the others go on.
 */

export interface ValidLine {
  line: number;
  record: HrRecord;
  user: DirectoryUser;
  /** The manager HR names, resolved; null when none. */
  manager: DirectoryUser | null;
  /** The employee id's stored record, when it was seen before. */
  previous: HrEmployee | null;
}

export interface RejectedLine {
  line: number;
  employeeId: string | null;
  upn: string | null;
  reason: string;
}

export interface ValidationResult {
  valid: ValidLine[];
  rejected: RejectedLine[];
}

export interface ValidationContext {
  directory: Directory;
  /** The stored record of an employee id (in any case). */
  employee(employeeId: string): HrEmployee | null;
  /** The employee id an account is stored under. */
  employeeOfUser(userId: string): HrEmployee | null;
}

/** The longest manager chain followed when looking for a loop. */
const MAX_CHAIN = 200;

export async function validateBatch(lines: ParsedLine[], ctx: ValidationContext): Promise<ValidationResult> {
  const problems = new Map<number, string[]>();
  const add = (line: number, p: string) => problems.set(line, [...(problems.get(line) ?? []), p]);
  for (const l of lines) for (const p of l.problems) add(l.line, p);
  const wellFormed = lines.filter((l) => l.record);

  // Duplicates within the batch: which line would be right is not for the bot to guess. A
  // malformed line counts too: HR said something else about that employee or account there.
  const byEmployee = groupBy(
    lines.filter((l) => l.employeeId),
    (l) => employeeKey(l.employeeId!),
  );
  for (const same of byEmployee.values()) {
    if (same.length > 1) for (const l of same) add(l.line, `employee_id ${l.employeeId} appears on lines ${same.map((x) => x.line).join(', ')} of this batch`);
  }
  const byUpn = groupBy(
    lines.filter((l) => l.upn),
    (l) => l.upn!.toLowerCase(),
  );
  for (const same of byUpn.values()) {
    if (same.length > 1 && new Set(same.map((l) => employeeKey(l.employeeId ?? ''))).size > 1) {
      for (const l of same) add(l.line, `upn ${l.upn!.toLowerCase()} is on lines ${same.map((x) => x.line).join(', ')} under different employee ids`);
    }
  }

  // The directory: the accounts and the managers, each looked up once.
  const users = new Map<string, DirectoryUser | null>();
  const lookup = async (upn: string) => {
    if (!users.has(upn)) users.set(upn, await ctx.directory.findUserByUpn(upn));
    return users.get(upn)!;
  };
  const resolved: ValidLine[] = [];
  for (const l of wellFormed) {
    const r = l.record!;
    const user = await lookup(r.upn);
    if (!user) {
      add(l.line, `unknown user: the directory has no account ${r.upn}`);
      continue;
    }
    let manager: DirectoryUser | null = null;
    if (r.managerUpn) {
      manager = await lookup(r.managerUpn);
      if (!manager) {
        add(l.line, `unknown manager: the directory has no account ${r.managerUpn}`);
        continue;
      }
    }
    // An employee id stays with its account; an account has one employee id.
    const previous = ctx.employee(r.employeeId);
    if (previous && previous.userId !== user.id) {
      add(l.line, `employee_id ${r.employeeId} belongs to ${previous.upn}, not ${r.upn}: an employee id cannot move to another account`);
      continue;
    }
    const owner = ctx.employeeOfUser(user.id);
    if (owner && employeeKey(owner.employeeId) !== employeeKey(r.employeeId)) {
      add(l.line, `${r.upn} is already employee ${owner.employeeId}: an account has one employee id`);
      continue;
    }
    if (!problems.has(l.line)) resolved.push({ line: l.line, record: r, user, manager, previous });
  }

  // Manager loops, across the batch and the directory. A batch line's manager replaces the
  // directory's for that person; everyone else's comes from the directory.
  const inBatch = new Map(resolved.map((v) => [v.user.id, v]));
  const directoryManager = new Map<string, DirectoryUser | null>();
  const names = new Map<string, string>(resolved.map((v) => [v.user.id, v.user.userPrincipalName]));
  const managerOf = async (userId: string): Promise<string | null> => {
    const v = inBatch.get(userId);
    if (v) return v.manager?.id ?? null;
    if (!directoryManager.has(userId)) {
      const m = await ctx.directory.getManager(userId).catch(() => null);
      directoryManager.set(userId, m);
      if (m) names.set(m.id, m.userPrincipalName);
    }
    return directoryManager.get(userId)?.id ?? null;
  };
  for (const v of resolved) if (v.manager) names.set(v.manager.id, v.manager.userPrincipalName);
  const inLoop = new Map<string, string>();
  for (const v of resolved) {
    if (inLoop.has(v.user.id)) continue;
    const path = [v.user.id];
    const seen = new Set(path);
    let at: string | null = v.user.id;
    for (let i = 0; i < MAX_CHAIN && at; i++) {
      const next: string | null = await managerOf(at);
      if (!next) break;
      if (next === v.user.id) {
        const chain = [...path, next].map((id) => names.get(id) ?? id).join(' → ');
        for (const id of path) if (inBatch.has(id) && !inLoop.has(id)) inLoop.set(id, chain);
        break;
      }
      // A loop further up that does not come back here is another person's to report.
      if (seen.has(next)) break;
      seen.add(next);
      path.push(next);
      at = next;
    }
  }
  for (const [userId, chain] of inLoop) add(inBatch.get(userId)!.line, `manager loop: ${chain}`);

  const rejected: RejectedLine[] = lines
    .filter((l) => problems.has(l.line))
    .map((l) => ({ line: l.line, employeeId: l.employeeId, upn: l.upn, reason: [...new Set(problems.get(l.line)!)].join('; ') }));
  return { valid: resolved.filter((v) => !problems.has(v.line)), rejected };
}

function groupBy<T>(list: T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of list) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}
