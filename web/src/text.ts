// How message text and times are shown: links found in text, and the
// day a message belongs to.

export type Piece = { text: string } | { text: string; href: string };

// Only web links are made clickable: other schemes (javascript:, data:)
// stay text.
const LINK = /\bhttps?:\/\/[^\s<>"]+/giu;
// Punctuation that ends a sentence rather than a link.
const TRAILING = /[.,;:!?'")\]}>]+$/u;

/** `text` cut into plain pieces and links. */
export function linkify(text: string): Piece[] {
  const pieces: Piece[] = [];
  let from = 0;
  for (const match of text.matchAll(LINK)) {
    let link = match[0];
    const trailing = TRAILING.exec(link);
    if (trailing) link = link.slice(0, link.length - trailing[0].length);
    let href: string;
    try {
      href = new URL(link).href;
    } catch {
      continue;
    }
    const at = match.index;
    if (at > from) pieces.push({ text: text.slice(from, at) });
    pieces.push({ text: link, href });
    from = at + link.length;
  }
  if (from < text.length) pieces.push({ text: text.slice(from) });
  return pieces;
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
