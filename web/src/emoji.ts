// Emoji for reactions and the composer: GitHub's shortcodes (`gemoji`,
// the list the server takes in reactions), loaded only when first needed,
// and the emoji this browser's user reacts with most.

import type { Gemoji } from "gemoji";

export type { Gemoji };

/** The picker's first row for someone who has not reacted yet. */
const FIRST_ROW = ["👍", "❤️", "😂", "🎉", "😮", "👀"];
const USED_KEY = "chat.emoji.used";
const SHORTCODE = /:([a-z0-9_+-]+):/g;

let list: Promise<Gemoji[]> | null = null;

/** Every emoji with its shortcodes: a chunk of its own, fetched once. */
export function loadEmoji(): Promise<Gemoji[]> {
  list ??= import("gemoji").then((module) => module.gemoji);
  return list;
}

/** `text` with each `:shortcode:` the list knows as its emoji; unknown
 * ones, and any in `code`, stay as typed. */
export async function expandShortcodes(text: string): Promise<string> {
  if (!/:[a-z0-9_+-]+:/.test(text)) return text;
  const byName = new Map<string, string>();
  for (const emoji of await loadEmoji()) {
    for (const name of emoji.names) byName.set(name, emoji.emoji);
  }
  // Odd pieces of a split on backticks are inside code.
  return text
    .split("`")
    .map((piece, at) =>
      at % 2 === 1
        ? piece
        : piece.replace(
            SHORTCODE,
            (code, name: string) => byName.get(name) ?? code,
          ),
    )
    .join("`");
}

/** Up to `limit` emoji whose shortcode or tag starts with `query` (or,
 * after those, contains it), shortcodes first, shorter ones before longer
 * (`:sparkl` offers ✨ sparkles before 💖 sparkling_heart). */
export function searchEmoji(
  emoji: Gemoji[],
  query: string,
  limit: number,
): Gemoji[] {
  const q = query.toLowerCase().replace(/^:|:$/g, "");
  if (!q) return emoji.slice(0, limit);
  const score = (e: Gemoji): number => {
    if (e.names.some((n) => n.startsWith(q))) return 0;
    if (e.tags.some((t) => t.startsWith(q))) return 1;
    if (e.names.some((n) => n.includes(q)) || e.description.includes(q))
      return 2;
    return 3;
  };
  return emoji
    .map((e) => ({ e, s: score(e), length: e.names[0].length }))
    .filter(({ s }) => s < 3)
    .sort((a, b) => a.s - b.s || a.length - b.length)
    .slice(0, limit)
    .map(({ e }) => e);
}

/** The six emoji this browser reacts with most, then the usual ones. */
export function mostUsed(): string[] {
  const used = usedCounts();
  const ranked = Object.entries(used)
    .sort((a, b) => b[1] - a[1])
    .map(([emoji]) => emoji);
  return [...new Set([...ranked, ...FIRST_ROW])].slice(0, 6);
}

/** Counts a reaction with `emoji` towards the picker's first row. */
export function noteUsed(emoji: string) {
  const used = usedCounts();
  used[emoji] = (used[emoji] ?? 0) + 1;
  try {
    localStorage.setItem(USED_KEY, JSON.stringify(used));
  } catch {
    // Storage full or off: the row is the usual one.
  }
}

function usedCounts(): Record<string, number> {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(USED_KEY) ?? "{}");
    return parsed && typeof parsed === "object"
      ? (parsed as Record<string, number>)
      : {};
  } catch {
    return {};
  }
}
