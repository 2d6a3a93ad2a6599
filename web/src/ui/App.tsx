// The page: the login, or the chat with its connection state.

import { useEffect, useState } from "preact/hooks";

import type { ChatClient } from "../client";
import type { Connection } from "../state";
import { useClientState } from "./hooks";
import { Account } from "./Account";
import { Login } from "./Login";
import { Members } from "./Members";
import { Room } from "./Room";
import { Search, type SearchResults } from "./Search";
import { Sidebar } from "./Sidebar";
import { faviconUrl, setFavicon } from "../favicon";
import { notify } from "./notifications";

export function App({ client }: { client: ChatClient }) {
  useClientState(client);
  const state = client.state;
  // On a narrow screen the rooms and members are drawers.
  const [drawer, setDrawer] = useState<"rooms" | "members" | null>(null);
  const [account, setAccount] = useState(false);
  const [searching, setSearching] = useState(false);
  const [results, setResults] = useState<SearchResults | null>(null);
  // A new login starts with the account's window closed, and no search.
  useEffect(() => {
    setAccount(false);
    setSearching(false);
    setResults(null);
  }, [client.loggedIn, state.me]);

  useEffect(() => {
    document.title = state.pageTitle();
    setFavicon(faviconUrl(state.totalUnread(), state.totalMentions()));
  });

  useEffect(() => {
    client.onAlert = (message) => notify(client, message);
    return () => {
      client.onAlert = null;
    };
  }, [client]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setDrawer(null);
      // Alt+↑/↓ walk the rooms, as in chat-gui.
      if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
        e.preventDefault();
        client.cycle(e.key === "ArrowUp" ? -1 : 1);
      }
    };
    // Looked at: shown, and with the focus (not behind another window).
    const onVisible = () =>
      client.setVisible(
        document.visibilityState === "visible" && document.hasFocus(),
      );
    const onOnline = () => client.retryNow();
    window.addEventListener("keydown", onKey);
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("focus", onVisible);
    window.addEventListener("blur", onVisible);
    window.addEventListener("online", onOnline);
    onVisible();
    return () => {
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("focus", onVisible);
      window.removeEventListener("blur", onVisible);
      window.removeEventListener("online", onOnline);
    };
  }, [client]);

  if (!client.loggedIn) return <Login client={client} />;

  const close = () => setDrawer(null);
  const toggle = (which: "rooms" | "members") =>
    setDrawer(drawer === which ? null : which);
  return (
    <div class={`chat ${state.connection.state} drawer-${drawer ?? "none"}`}>
      <header class="topbar">
        <button
          class="secondary narrow-only"
          aria-expanded={drawer === "rooms"}
          onClick={() => toggle("rooms")}
        >
          Rooms{state.totalUnread() > 0 ? ` (${state.totalUnread()})` : ""}
        </button>
        <h1>chat</h1>
        <ConnectionState
          connection={state.connection}
          onRetry={() => client.retryNow()}
        />
        {state.registered ? (
          <button
            class="me link"
            title="your account"
            aria-expanded={account}
            onClick={() => setAccount(!account)}
          >
            {state.me}
          </button>
        ) : (
          <span class="me" title="guest">
            {state.me}
            <span class="hint"> (guest)</span>
          </span>
        )}
        <button
          class="search-button secondary"
          aria-label="Search messages"
          title="Search messages"
          aria-expanded={searching}
          onClick={() => setSearching(!searching)}
        >
          🔍<span class="wide-only"> Search</span>
        </button>
        <button
          class="secondary narrow-only"
          aria-expanded={drawer === "members"}
          onClick={() => toggle("members")}
        >
          Members
        </button>
        <button class="secondary" onClick={() => void client.logout()}>
          Log out
        </button>
      </header>
      {state.notice && (
        <p class="notice-bar" role="status">
          <span>{state.notice}</span>
          <button
            class="link"
            aria-label="Dismiss"
            onClick={() => client.dispatch({ type: "noticeRead" })}
          >
            ✕
          </button>
        </p>
      )}
      {searching && (
        <Search
          client={client}
          results={results}
          onResults={setResults}
          onClose={() => setSearching(false)}
        />
      )}
      {account && state.registered && (
        <Account client={client} onClose={() => setAccount(false)} />
      )}
      <Sidebar client={client} onPicked={close} />
      <Room client={client} />
      <Members client={client} onPicked={close} />
    </div>
  );
}

function ConnectionState({
  connection,
  onRetry,
}: {
  connection: Connection;
  onRetry: () => void;
}) {
  const [, tick] = useState(0);
  // Counts down the retry while offline.
  useEffect(() => {
    if (connection.state !== "offline") return;
    const timer = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, [connection]);
  switch (connection.state) {
    case "online":
      return (
        <span class="connection online" role="status" title="online">
          online
        </span>
      );
    case "connecting":
      return (
        <span class="connection connecting" role="status">
          connecting…
        </span>
      );
    case "offline": {
      const seconds = Math.max(
        0,
        Math.ceil((connection.retryAt - Date.now()) / 1000),
      );
      return (
        <span class="connection offline" role="status">
          offline: {connection.reason}; retrying
          {seconds > 0 ? ` in ${seconds}s` : ""}{" "}
          <button class="link" onClick={onRetry}>
            retry now
          </button>
        </span>
      );
    }
  }
}
