// The account's own settings: a new password, or deleting it.

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { ErrorLine, PasswordField } from "./forms";
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
        <PasswordField
          label="Current password"
          name="current-password"
          autoComplete="current-password"
          value={current}
          onInput={setCurrent}
        />
        <PasswordField
          label="New password"
          name="new-password"
          autoComplete="new-password"
          value={fresh}
          onInput={setFresh}
        />
        <PasswordField
          label="New password again"
          name="new-password-again"
          autoComplete="new-password"
          value={again}
          onInput={setAgain}
        />
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
        <PasswordField
          label="Password, to delete it for good"
          name="delete-password"
          autoComplete="current-password"
          value={confirm}
          onInput={setConfirm}
        />
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
