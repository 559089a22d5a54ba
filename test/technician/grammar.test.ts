import { describe, expect, it } from 'vitest';
import { COMMANDS, commandWordOf, helpText, MAX_LINE, parseCommand, parseGrantDuration, suggestCommand, tokenize, type ParseResult } from '../../dialogs/technician/grammar';

const NOW = new Date('2026-03-02T09:00:00.000Z');

function ok(line: string) {
  const r = parseCommand(line, NOW);
  if (!r.ok) throw new Error(`expected "${line}" to parse, got: ${r.message}`);
  return r.command;
}

function bad(line: string): string {
  const r: ParseResult = parseCommand(line, NOW);
  if (r.ok) throw new Error(`expected "${line}" to be refused, got ${JSON.stringify(r.command)}`);
  return r.message;
}

describe('tokenizer', () => {
  it('groups words in double, single and curly quotes, and keeps an apostrophe inside a word', () => {
    const r = tokenize(`whois "Emily Chen" 'Ravi Shah' “Mei Tanaka” Kevin O'Brien`);
    expect(r.ok && r.tokens.map((t) => t.text)).toEqual(['whois', 'Emily Chen', 'Ravi Shah', 'Mei Tanaka', 'Kevin', "O'Brien"]);
  });

  it('honours \\" and \\\\ inside double quotes and a no-break space between words', () => {
    const r = tokenize('close TKT-1 --note "said \\"done\\" \\\\ ok"\u00a0x');
    expect(r.ok && r.tokens.map((t) => t.text)).toEqual(['close', 'TKT-1', '--note', 'said "done" \\ ok', 'x']);
  });

  it('refuses a quote that is not closed', () => {
    expect(tokenize('whois "Emily Chen')).toEqual({ ok: false, message: expect.stringMatching(/quote \(".*not closed/) });
  });
});

describe('commands and flags', () => {
  it('reads a user by sign-in name, name (the rest of the words) or id', () => {
    expect(ok('whois emily.chen@northwind.example').user).toBe('emily.chen@northwind.example');
    expect(ok('whois   Emily   Chen ').user).toBe('Emily Chen');
    expect(ok('WHOIS 957e5a6d-0c8b-4f46-aca9-a39f53ef71e8')).toMatchObject({ name: 'whois', user: '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8' });
  });

  it('takes --flag value, --flag=value, and an autocorrected dash; a text flag runs to the next flag', () => {
    expect(ok('offboard Chloe Martin --reason last day at work').flags.reason).toBe('last day at work');
    expect(bad('offboard Chloe --reason=last day --')).toMatch(/needs a name after the dashes/);
    expect(ok('offboard "Chloe Martin" —reason leaving')).toMatchObject({ user: 'Chloe Martin', flags: { reason: 'leaving' } });
    expect(ok('grant emily crm --reason quarter end --for 14d')).toMatchObject({ words: ['emily', 'crm'], flags: { reason: 'quarter end', for: 14 * 24 } });
    expect(ok('tap --minutes 120 Emily Chen')).toMatchObject({ user: 'Emily Chen', flags: { minutes: 120 } });
    expect(ok('move Mei --department Finance --title=Financial Analyst').flags).toEqual({ department: 'Finance', title: 'Financial Analyst' });
  });

  it('says what is missing and shows the usage', () => {
    expect(bad('offboard Chloe Martin')).toMatch(/needs --reason ‹why›.*\n\nUsage: `offboard ‹user› --reason ‹why›`\nExample: `offboard /s);
    expect(bad('whois')).toMatch(/Say which user/);
    expect(bad('grant emily --reason x')).toMatch(/which user and which resource/);
    expect(bad('close TKT-1001')).toMatch(/needs --note/);
    expect(bad('assign TKT-1001')).toMatch(/which technician/);
    expect(bad('take 1001')).toMatch(/not a ticket id; tickets look like TKT-1001/);
    expect(bad('disable emily --reason')).toMatch(/--reason needs a value/);
    for (const line of ['whois', 'offboard x', 'grant a']) expect(bad(line)).toMatch(/Nothing was changed\.$/);
  });

  it('refuses unknown commands and flags, a flag given twice, and extra words', () => {
    expect(bad('frobnicate emily')).toMatch(/There is no command "frobnicate"\. Type `help`/);
    expect(bad('whoiss emily')).toMatch(/Did you mean `whois`\?/);
    expect(bad('whois emily --force')).toMatch(/`whois` has no flag --force\. It takes no flags\./);
    expect(bad('tap emily --minutes 20 --minutes 30')).toMatch(/--minutes is given twice/);
    expect(bad('pending now')).toMatch(/takes no words/);
    expect(bad('help me please')).toMatch(/Name one command/);
    expect(bad('take TKT-1 TKT-2')).toMatch(/takes one ticket/);
  });

  it('refuses a user given twice, or two users where one is expected', () => {
    expect(bad('whois emily.chen@northwind.example emily.chen@northwind.example')).toMatch(/is given twice/);
    expect(bad('disable a@northwind.example b@northwind.example --reason x')).toMatch(/more than one user \(a@northwind\.example and b@northwind\.example\)/);
    expect(bad('grant emily.chen@northwind.example EMILY.CHEN@northwind.example crm --reason x')).toMatch(/given twice/);
  });

  it('refuses absurd durations, minutes, days and times', () => {
    for (const d of ['0d', '400d', '9999w', '-1d', '1.5d', '1e9d', 'forever', 'soon']) expect(bad(`grant emily crm --for ${d} --reason x`)).toMatch(/is not a duration/);
    expect(parseGrantDuration('365d')).toBe(8760);
    expect(parseGrantDuration('permanent')).toBeNull();
    expect(parseGrantDuration('12 hours')).toBe(12);
    expect(bad('tap emily --minutes 5')).toMatch(/out of range: a Temporary Access Pass lasts from 10 to 43200 minutes/);
    expect(bad('tap emily --minutes 43201')).toMatch(/out of range/);
    expect(bad('tap emily --minutes ten')).toMatch(/whole number of minutes/);
    expect(bad('report --days 0')).toMatch(/out of range: from 1 to 365/);
    expect(bad('report --days 366')).toMatch(/out of range/);
    expect(bad('audit emily --since 2027-01-01')).toMatch(/is in the future/);
    expect(bad('audit emily --since 1999-01-01')).toMatch(/more than 10 years ago/);
    expect(bad('audit emily --since yesterday')).toMatch(/is not a time/);
    expect(ok('audit emily --since 7d').flags.since).toBe('2026-02-23T09:00:00.000Z');
  });

  it('refuses very long, multi-line and binary text before reading it', () => {
    expect(bad(`whois ${'x'.repeat(MAX_LINE)}`)).toMatch(/characters long; a command has at most 1000/);
    expect(bad('whois emily\nunlock sarah')).toMatch(/A command is one line/);
    for (const c of ['\u0000', '\u0007', '\u001b[2J', '\u007f', '\ufffd', '\ud800', '\u0085']) expect(bad(`whois emily${c}`)).toMatch(/control or binary characters/);
    expect(bad('whois ' + 'a '.repeat(101))).toMatch(/more than 100 words/);
    expect(bad(`whois ${'n'.repeat(201)}`)).toMatch(/at most 200/);
  });

  it('reads the audit subcommands and targets', () => {
    expect(ok('audit verify').audit).toEqual({ sub: 'verify' });
    expect(bad('audit verify now')).toMatch(/takes no arguments/);
    expect(ok('audit tail').audit).toEqual({ sub: 'tail', n: 10 });
    expect(ok('audit tail 25').audit).toEqual({ sub: 'tail', n: 25 });
    expect(bad('audit tail 9999')).toMatch(/Usage: `audit/);
    expect(ok('audit export --since 2026-03-01').audit).toEqual({ sub: 'export' });
    expect(ok('audit REQ-1001').audit).toEqual({ sub: 'search', target: 'REQ-1001' });
    expect(ok('audit "verify"').audit).toEqual({ sub: 'search', target: 'verify' });
    expect(ok('audit Emily Chen --since 24h').audit).toEqual({ sub: 'search', target: 'Emily Chen' });
  });

  it('keeps a quoted first word of grant as the whole user', () => {
    expect(ok('grant "Emily Chen" payroll reports --reason x')).toMatchObject({ words: ['Emily Chen', 'payroll', 'reports'], userQuoted: true });
    expect(ok('grant Emily Chen payroll reports --reason x')).toMatchObject({ words: ['Emily', 'Chen', 'payroll', 'reports'], userQuoted: false });
  });

  it('has help, usage and an example for every command; the first word decides the command', () => {
    expect(ok('help').topic).toBeNull();
    expect(ok('help offboard').topic).toBe('offboard');
    expect(bad('help offbord')).toMatch(/Did you mean `offboard`/);
    for (const c of COMMANDS) {
      expect(c.examples.length).toBeGreaterThan(0);
      const text = helpText(c);
      expect(text).toContain(`Usage: \`${c.usage}\``);
      // Every example is itself a valid command line.
      for (const e of c.examples) expect(parseCommand(e, NOW).ok, e).toBe(true);
    }
    expect(commandWordOf('  Offboard x')).toBe('offboard');
    expect(commandWordOf('offboarding x')).toBeNull();
    expect(suggestCommand('reprot')).toBe('report');
    expect(suggestCommand('tap')).toBeNull();
  });
});
