// Hooks shared by the views.

import { useEffect, useState } from "preact/hooks";

import type { ChatClient } from "../client";

/** Draws again whenever the client's state changes. */
export function useClientState(client: ChatClient) {
  const [, setVersion] = useState(0);
  useEffect(() => client.subscribe(() => setVersion((v) => v + 1)), [client]);
}

/** A user action that may fail: its error to show, and a way to run it
 * (`then` gets its result when it succeeds). */
export function useAction(): [
  string | null,
  <T>(action: () => Promise<T>, then?: (result: T) => void) => void,
] {
  const [error, setError] = useState<string | null>(null);
  const run = <T>(action: () => Promise<T>, then?: (result: T) => void) => {
    setError(null);
    action().then(
      (result) => then?.(result),
      (failure: Error) => setError(failure.message),
    );
  };
  return [error, run];
}
