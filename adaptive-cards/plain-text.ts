/**
 * Text a person typed (a justification, a decision's comment, a review's or an exception's
 * reason), made to show on a card exactly as typed. Teams reads a TextBlock's text and a
 * fact's title and value as Markdown, so unescaped, an employee's justification could put a
 * link ("[Approve here](…)") or bold text on the approver's card, or start a list. Every
 * character Markdown gives a meaning to there is escaped with a backslash (CommonMark
 * escapes: the backslash is not shown), and so is the marker of a line that would start a
 * list. Characters that change the direction of the text around them (overrides, isolates)
 * are dropped. Text the bot writes itself is not passed through here: it may use Markdown.
 */
export function plainText(text: string): string {
  return text
    // Direction overrides and isolates would make the text read otherwise than it was typed.
    .replace(/[\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/[\\`*_[\]<>#~|]/g, '\\$&')
    .replace(/^([ \t]*)([-+]|\d{1,9}[.)])(?=[ \t]|$)/gm, (_m, indent: string, marker: string) => `${indent}${marker.slice(0, -1)}\\${marker.slice(-1)}`);
}
