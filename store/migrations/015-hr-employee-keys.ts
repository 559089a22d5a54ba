import type { Migration } from '../db';

/** Schema step 15: hr-employee-keys. */
export const updateToSchemaVersion15: Migration = {
  version: 15,
  name: 'hr-employee-keys',
  up: (db) => {
    // Employee ids are case-insensitive: each employee is found by its id in lower case
    // (`employee_key`); `employee_id` keeps the spelling HR used, for display. Ids that
    // differed only by case could be stored for two accounts before: the one updated last
    // keeps the key, the others get one no id can match (`#` is not allowed in an id), so
    // they stay bound to their accounts and their id in another case is refused for them.
    // The actions of an employee are found by the same key, through an index on it.
    db.exec(`
        ALTER TABLE hr_employees ADD COLUMN employee_key TEXT NOT NULL DEFAULT '';
        UPDATE hr_employees SET employee_key = lower(employee_id);
        UPDATE hr_employees SET employee_key = employee_key || '#' || user_id
          WHERE EXISTS (
            SELECT 1 FROM hr_employees o
            WHERE o.employee_key = hr_employees.employee_key AND o.employee_id <> hr_employees.employee_id
              AND (o.updated_at > hr_employees.updated_at OR (o.updated_at = hr_employees.updated_at AND o.employee_id > hr_employees.employee_id))
          );
        CREATE UNIQUE INDEX hr_employees_key ON hr_employees (employee_key);
        DROP INDEX hr_actions_employee;
        CREATE INDEX hr_actions_employee_key ON hr_actions (lower(employee_id), state);
      `);
  },
};
