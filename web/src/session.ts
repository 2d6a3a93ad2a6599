// The session kept between page loads: who is logged in, and its token.

/** Where the session is kept (the page's localStorage). */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Session {
  name: string;
  token: string;
  registered: boolean;
}

const SESSION_KEY = "chat.session";

/** The session an earlier page load saved, if it is whole. */
export function loadSession(store: SessionStore): Session | null {
  const saved = store.getItem(SESSION_KEY);
  if (!saved) return null;
  try {
    const session = JSON.parse(saved) as Session;
    if (!session.token || !session.name) throw new Error("incomplete");
    return session;
  } catch {
    store.removeItem(SESSION_KEY);
    return null;
  }
}

export function saveSession(store: SessionStore, session: Session): void {
  store.setItem(SESSION_KEY, JSON.stringify(session));
}

export function forgetSession(store: SessionStore): void {
  store.removeItem(SESSION_KEY);
}
