import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { cardText, press, sarah, say, title, planOf, steps, planCopies, ahmed } from './support';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

describe('smoke', () => {
  it('whois', async () => {
    const r = await say(h, sarah(h), 'whois Emily Chen');
    console.log(r.texts, r.cards.map(cardText));
    const r2 = await say(h, sarah(h), 'offboard emily.chen@northwind.example --reason leaving');
    console.log(r2.texts, r2.cards.map(cardText));
    const plan = planOf(r2.cards[0]);
    const c = await press(h, sarah(h), 'tech.confirm', { plan });
    console.log(cardText(c));
    await h.bot.scheduler.idle();
    console.log(planCopies(h, plan).map(cardText));
    const r3 = await say(h, sarah(h), 'pending');
    console.log(r3.cards.map(cardText));
    const r4 = await say(h, sarah(h), 'report');
    console.log(JSON.stringify(r4.cards[0]).slice(0, 3000));
  });
});
