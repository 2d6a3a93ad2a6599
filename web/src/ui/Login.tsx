// The first screen: a name, and a password for an account.

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { ErrorLine } from "./forms";

export function Login({ client }: { client: ChatClient }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(client.loggedOut);
  const [busy, setBusy] = useState(false);

  const submit = async (register: boolean) => {
    if (!name.trim()) {
      setError("Choose a name.");
      return;
    }
    if (register && !password) {
      setError("An account needs a password (8 characters or more).");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await client.login(name.trim(), password, register);
    } catch (failure) {
      setError((failure as Error).message);
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
        }}
      >
        <h1>chat</h1>
        <label>
          Name
          <input
            name="name"
            autoFocus
            autoComplete="username"
            maxLength={64}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          Password <span class="hint">(empty: join as a guest)</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="submit" disabled={busy}>
            {password ? "Log in" : "Join as guest"}
          </button>
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => void submit(true)}
          >
            Register
          </button>
        </div>
        <p class="hint">
          A guest's name is free again once it leaves. An account keeps its name
          and rooms, creates rooms and sends direct messages.
        </p>
      </form>
    </main>
  );
}
