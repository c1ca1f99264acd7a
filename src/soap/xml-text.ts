/** Text and attribute escaping for the XML we write by hand. */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

// Characters XML 1.0 cannot carry at all; they are refused on input, so on output they can only be a bug.
// eslint-disable-next-line no-control-regex -- the characters XML 1.0 cannot carry are control characters
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export function escapeXml(text: string): string {
  if (FORBIDDEN.test(text)) throw new Error('text holds a character XML cannot carry');
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}
