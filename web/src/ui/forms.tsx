// Pieces the views share: an error line, a password field, and a
// one-field form.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

import { useAction } from "./hooks";

/** What went wrong, announced to screen readers; nothing if nothing did. */
export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** A labelled password field; `label` may hold a hint after the words. */
export function PasswordField({
  label,
  name,
  autoComplete,
  value,
  onInput,
}: {
  label: ComponentChildren;
  name: string;
  autoComplete: "current-password" | "new-password";
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <label>
      {label}
      <input
        name={name}
        type="password"
        autoComplete={autoComplete}
        value={value}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
    </label>
  );
}

/** A form of one text field: Enter or its button runs `action` with the
 * trimmed text (not when empty), which is cleared when the action
 * succeeds; a failure shows under it. `options` go before the button,
 * `children` after it. */
export function FieldForm({
  label,
  name,
  placeholder,
  button,
  initial = "",
  keep = false,
  maxLength,
  action,
  options,
  children,
}: {
  label: string;
  name: string;
  placeholder?: string;
  button: string;
  initial?: string;
  /** Keep the text after success (a setting, not a command). */
  keep?: boolean;
  maxLength?: number;
  action: (text: string) => Promise<unknown>;
  options?: ComponentChildren;
  children?: ComponentChildren;
}) {
  const [text, setText] = useState(initial);
  const [error, act] = useAction();
  return (
    <>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const value = text.trim();
          if (!value && !keep) return;
          act(
            () => action(value),
            () => keep || setText(""),
          );
        }}
      >
        <label>
          {label}
          <input
            name={name}
            placeholder={placeholder}
            maxLength={maxLength}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        {options}
        <button type="submit">{button}</button>
        {children}
      </form>
      <ErrorLine error={error} />
    </>
  );
}
