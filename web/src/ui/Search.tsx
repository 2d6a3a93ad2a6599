// Search: a query, in every room or the one in view; the hits newest
// first with the words found marked, page after page; a hit opens its
// room at the message.

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import type { ChatMessage } from "../state";
import { dayLabel, excerpt, timeOf } from "../text";
import { ErrorLine } from "./forms";
import { useAction } from "./hooks";

/** What was searched for and what it found so far; kept while the panel
 * is closed, so the results are there again when it opens. */
export interface SearchResults {
  query: string;
  room: string;
  hits: ChatMessage[];
  terms: string[];
  nextPageToken: string;
}

export function Search({
  client,
  results,
  onResults,
  onClose,
}: {
  client: ChatClient;
  results: SearchResults | null;
  onResults: (results: SearchResults) => void;
  onClose: () => void;
}) {
  const state = client.state;
  const [query, setQuery] = useState(results?.query ?? "");
  const [room, setRoom] = useState(results?.room ?? "");
  const [error, act] = useAction();
  const [searching, setSearching] = useState(false);
  const run = (more: boolean) => {
    const words = more ? results!.query : query.trim();
    const where = more ? results!.room : room;
    if (!words) return;
    setSearching(true);
    act(
      () =>
        client
          .search(words, where, more ? results!.nextPageToken : "")
          .finally(() => setSearching(false)),
      (page) =>
        onResults({
          query: words,
          room: where,
          hits: more ? [...results!.hits, ...page.hits] : page.hits,
          terms: page.terms,
          nextPageToken: page.nextPageToken,
        }),
    );
  };
  const current = state.current;
  return (
    <div
      class="dialog search"
      role="dialog"
      aria-label="Search messages"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          run(false);
        }}
      >
        <input
          type="search"
          name="search"
          aria-label="Search messages"
          placeholder="Search messages"
          autoFocus
          maxLength={200}
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <div class="search-where">
          <select
            aria-label="Where"
            value={room}
            onChange={(e) => setRoom(e.currentTarget.value)}
          >
            <option value="">All rooms</option>
            {current !== null && (
              <option value={current}>In {state.title(current)}</option>
            )}
          </select>
          <button type="submit" disabled={!query.trim() || searching}>
            {searching ? "Searching…" : "Search"}
          </button>
          <button type="button" class="secondary" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
      <ErrorLine error={error} />
      {results && (
        <Hits
          client={client}
          results={results}
          onPicked={(hit) =>
            act(
              () => client.jumpTo(hit.room, hit.seq),
              () => onClose(),
            )
          }
        />
      )}
      {results?.nextPageToken && (
        <button
          class="link more"
          disabled={searching}
          onClick={() => run(true)}
        >
          More results
        </button>
      )}
    </div>
  );
}

function Hits({
  client,
  results,
  onPicked,
}: {
  client: ChatClient;
  results: SearchResults;
  onPicked: (hit: ChatMessage) => void;
}) {
  const state = client.state;
  if (results.hits.length === 0) {
    return <p class="hint">Nothing found for “{results.query}”.</p>;
  }
  return (
    <ol class="hits" aria-label="Messages found">
      {results.hits.map((hit) => (
        <li key={`${hit.room}/${hit.seq}`}>
          <button class="hit" onClick={() => onPicked(hit)}>
            <span class="where">
              <span class="hit-room">{state.title(hit.room)}</span>
              {!state.rooms.has(hit.room) && (
                <span class="hint"> (join to see)</span>
              )}
              {" · "}
              {hit.sender}
              {" · "}
              <time dateTime={hit.sentAt.toISOString()}>
                {dayLabel(hit.sentAt)} {timeOf(hit.sentAt)}
              </time>
            </span>
            <span class="excerpt">
              {excerpt(hit.text, results.terms).map((part) =>
                part.mark ? <mark>{part.text}</mark> : part.text,
              )}
            </span>
          </button>
        </li>
      ))}
    </ol>
  );
}
