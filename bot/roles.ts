import type { Directory, DirectoryUser } from '../directory/directory';

/** What someone may do, decided from the directory at the moment they act. */
export interface Roles {
  employee: true;
  /** Has at least one direct report. */
  manager: boolean;
  directReports: number;
  /** Member of the configured technicians group. */
  technician: boolean;
}

/** Looks up the roles of `user`; never from anything the user sent. */
export async function resolveRoles(directory: Directory, user: DirectoryUser, technicianGroupId: string | null): Promise<Roles> {
  const [reports, techGroups] = await Promise.all([
    directory.getDirectReports(user.id),
    technicianGroupId ? directory.checkMemberGroups(user.id, [technicianGroupId]) : Promise.resolve([] as string[]),
  ]);
  return {
    employee: true,
    manager: reports.length > 0,
    directReports: reports.length,
    technician: technicianGroupId !== null && techGroups.includes(technicianGroupId),
  };
}

/** "Employee · Manager of 5 · Identity technician" */
export function describeRoles(r: Roles): string {
  const parts = ['Employee'];
  if (r.manager) parts.push(`Manager of ${r.directReports}`);
  if (r.technician) parts.push('Identity technician');
  return parts.join(' · ');
}
