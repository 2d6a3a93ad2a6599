// How message text and times are shown: text as a safe subset of
// Markdown, and the day a message belongs to.

import MarkdownIt from "markdown-it";

// Emphasis, strong, strikethrough, inline code and code blocks, links,
// quotes and lists; no raw HTML, images, headings or tables. Line breaks
// are kept, as chat writers mean them.
const md = new MarkdownIt("zero", { breaks: true, linkify: true }).enable([
  "emphasis",
  "strikethrough",
  "backticks",
  "fence",
  "code",
  "blockquote",
  "list",
  "link",
  "linkify",
  "autolink",
  "newline",
  "escape",
  "entity",
]);
// Only web and mail links: javascript:, data: and the rest stay text.
md.validateLink = (url) => /^(https?:|mailto:)/i.test(url.trim());
// Links open apart and tell the page they lead to nothing of this one.
const openLink = md.renderer.rules.link_open;
md.renderer.rules.link_open = (tokens, at, options, env, self) => {
  tokens[at].attrSet("target", "_blank");
  tokens[at].attrSet("rel", "noopener noreferrer");
  return openLink
    ? openLink(tokens, at, options, env, self)
    : self.renderToken(tokens, at, options);
};

/** `text` as HTML: safe to put in the page, whatever the text holds. */
export function markdown(text: string): string {
  return md.render(text).trim();
}

/** The local day `date` falls on, as a key that sorts by day. */
export function dayOf(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** A day separator's words: "Today", "Yesterday", or the date. */
export function dayLabel(date: Date, now: Date = new Date()): string {
  const today = dayOf(now);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  const day = dayOf(date);
  if (day === today) return "Today";
  if (day === dayOf(yesterday)) return "Yesterday";
  return date.toLocaleDateString(undefined, {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}

/** A message's time of day, hours and minutes. */
export function timeOf(date: Date): string {
  return date.toLocaleTimeString(undefined, {
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** A part of a text, and whether it is one of the words searched for. */
export interface MarkedPart {
  text: string;
  mark: boolean;
}

/** How far before the first word found a search hit's excerpt starts, and
 * how long an excerpt is, in characters. */
const EXCERPT_BEFORE = 40;
const EXCERPT_LENGTH = 200;

/** An excerpt of `text` around the first of `terms` in it (case aside),
 * cut into parts with each term found marked: drawn as text, never as
 * markup. */
export function excerpt(text: string, terms: string[]): MarkedPart[] {
  const words = terms.filter((term) => term !== "");
  const pattern =
    words.length > 0
      ? new RegExp(
          words
            .map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
            .join("|"),
          "giu",
        )
      : null;
  const first = pattern ? text.search(pattern) : -1;
  const start = first > EXCERPT_BEFORE ? first - EXCERPT_BEFORE : 0;
  let cut = text.slice(start, start + EXCERPT_LENGTH).replace(/\s+/g, " ");
  if (start > 0) cut = `…${cut}`;
  if (start + EXCERPT_LENGTH < text.length) cut = `${cut}…`;
  const parts: MarkedPart[] = [];
  let at = 0;
  for (const found of pattern ? cut.matchAll(pattern) : []) {
    if (found.index > at) {
      parts.push({ text: cut.slice(at, found.index), mark: false });
    }
    parts.push({ text: found[0], mark: true });
    at = found.index + found[0].length;
  }
  if (at < cut.length) parts.push({ text: cut.slice(at), mark: false });
  return parts;
}
