// The account's own settings: a new password, or deleting it.

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { ErrorLine } from "./forms";
import { useAction } from "./hooks";

export function Account({
  client,
  onClose,
}: {
  client: ChatClient;
  onClose: () => void;
}) {
  const [current, setCurrent] = useState("");
  const [fresh, setFresh] = useState("");
  const [again, setAgain] = useState("");
  const [confirm, setConfirm] = useState("");
  const [changed, setChanged] = useState(false);
  const [changeError, change] = useAction();
  const [deleteError, remove] = useAction();
  const differ = again !== "" && fresh !== again;
  return (
    <div
      class="dialog"
      role="dialog"
      aria-label="Your account"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <h2>Your account: {client.state.me}</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setChanged(false);
          change(
            () => client.changePassword(current, fresh),
            () => {
              setChanged(true);
              setCurrent("");
              setFresh("");
              setAgain("");
            },
          );
        }}
      >
        <h3>Change the password</h3>
        <label>
          Current password
          <input
            name="current-password"
            type="password"
            autoComplete="current-password"
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
          />
        </label>
        <label>
          New password
          <input
            name="new-password"
            type="password"
            autoComplete="new-password"
            value={fresh}
            onInput={(e) => setFresh(e.currentTarget.value)}
          />
        </label>
        <label>
          New password again
          <input
            name="new-password-again"
            type="password"
            autoComplete="new-password"
            value={again}
            onInput={(e) => setAgain(e.currentTarget.value)}
          />
        </label>
        {differ && <p class="hint warning">The two new passwords differ.</p>}
        <button type="submit" disabled={!current || !fresh || fresh !== again}>
          Change password
        </button>
        {changed && (
          <p class="hint" role="status">
            Password changed; your other sessions have ended.
          </p>
        )}
        <ErrorLine error={changeError} />
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          remove(() => client.deleteAccount(confirm));
        }}
      >
        <h3>Delete the account</h3>
        <p class="hint">
          Its name becomes free; its messages stay in the rooms' history.
        </p>
        <label>
          Password, to delete it for good
          <input
            name="delete-password"
            type="password"
            autoComplete="current-password"
            value={confirm}
            onInput={(e) => setConfirm(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="danger" disabled={!confirm}>
          Delete account
        </button>
        <ErrorLine error={deleteError} />
      </form>
      <button class="secondary" onClick={onClose}>
        Close
      </button>
    </div>
  );
}
