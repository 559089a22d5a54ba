import type { TurnContext } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import type { Roles } from './roles';

export type MenuAudience = 'everyone' | 'manager' | 'technician';

/** One thing a user can ask for, shown on the welcome card to those who may use it. */
export interface MenuItem {
  key: string;
  audience: MenuAudience;
  /** What to type, e.g. `my team`. */
  say: string;
  description: string;
  /** Label of a button on the welcome card; no button when absent. */
  button?: string;
  /** Runs the item as if its text had been typed. */
  run: (context: TurnContext, state: TurnState) => Promise<void>;
}

/** The items each capability offers, in registration order. */
export class MenuRegistry {
  private readonly items: MenuItem[] = [];

  add(item: MenuItem): void {
    if (this.items.some((i) => i.key === item.key)) throw new Error(`menu item ${item.key} registered twice`);
    this.items.push(item);
  }

  get(key: string): MenuItem | undefined {
    return this.items.find((i) => i.key === key);
  }

  /** Items of one audience. */
  forAudience(audience: MenuAudience): MenuItem[] {
    return this.items.filter((i) => i.audience === audience);
  }

  /** Whether someone with `roles` may use `item`. */
  static allows(item: MenuItem, roles: Roles): boolean {
    return item.audience === 'everyone' || (item.audience === 'manager' && roles.manager) || (item.audience === 'technician' && roles.technician);
  }
}
