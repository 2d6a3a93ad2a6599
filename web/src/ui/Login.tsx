// The first screen: a name, and a password for an account.

import { useEffect, useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { ErrorLine, PasswordField } from "./forms";

export function Login({ client }: { client: ChatClient }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(client.loggedOut);
  const [busy, setBusy] = useState(false);
  const [guests, setGuests] = useState(true);
  useEffect(() => {
    void client.admitsGuests().then(setGuests);
  }, [client]);
  const asGuest = guests && !password;
  // "ann hunter2" typed in the name field: a password that slipped.
  const slipped = asGuest && /\s/.test(name.trim());

  const submit = async (register: boolean) => {
    if (!name.trim()) {
      setError("Choose a name.");
      return;
    }
    if ((register || !guests) && !password) {
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
        <PasswordField
          label={
            <>
              Password{" "}
              {guests && <span class="hint">(empty: join as a guest)</span>}
            </>
          }
          name="password"
          autoComplete="current-password"
          value={password}
          onInput={setPassword}
        />
        {slipped && (
          <p class="hint warning" role="status">
            “{name.trim()}” has a space in it: if part of it is your password,
            put that in the password field.
          </p>
        )}
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="submit" disabled={busy}>
            {asGuest && name.trim()
              ? `Join as guest “${name.trim()}”`
              : asGuest
                ? "Join as guest"
                : "Log in"}
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
          {guests
            ? "A guest's name is free again once it leaves. An account keeps its name and rooms, creates rooms and sends direct messages."
            : "This server admits accounts only: log in, or register one."}
        </p>
      </form>
    </main>
  );
}
