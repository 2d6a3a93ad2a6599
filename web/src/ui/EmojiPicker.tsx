// A small emoji picker: the six most used first, then a search over
// GitHub's shortcodes (the list loads the first time the picker opens).

import { useEffect, useState } from "preact/hooks";

import { loadEmoji, mostUsed, searchEmoji } from "../emoji";
import type { Gemoji } from "../emoji";

/** How many results the search shows at most. */
const RESULTS = 40;

export function EmojiPicker({
  onPick,
  onClose,
}: {
  onPick: (emoji: string) => void;
  onClose: () => void;
}) {
  const [query, setQuery] = useState("");
  const [emoji, setEmoji] = useState<Gemoji[] | null>(null);
  useEffect(() => {
    void loadEmoji().then(setEmoji);
  }, []);
  const found = emoji && query ? searchEmoji(emoji, query, RESULTS) : [];
  const choice = (char: string, name?: string) => (
    <button
      type="button"
      class="emoji"
      key={char}
      title={name ? `:${name}:` : char}
      aria-label={name ? `:${name}:` : char}
      onClick={() => onPick(char)}
    >
      {char}
    </button>
  );
  return (
    <div
      class="picker"
      role="dialog"
      aria-label="Pick a reaction"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <div class="row">{mostUsed().map((char) => choice(char))}</div>
      <input
        type="search"
        value={query}
        placeholder="Search emoji"
        aria-label="Search emoji"
        autoFocus
        onInput={(e) => setQuery(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && found[0]) {
            e.preventDefault();
            onPick(found[0].emoji);
          }
        }}
      />
      {query && (
        <div class="results">
          {!emoji && <span class="hint">loading…</span>}
          {emoji && found.length === 0 && <span class="hint">no emoji</span>}
          {found.map((e) => choice(e.emoji, e.names[0]))}
        </div>
      )}
    </div>
  );
}
