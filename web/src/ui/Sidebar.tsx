// The rooms the user is in, invitations, and ways to find or make more.

import { useState } from "preact/hooks";

import type { ChatClient, ListedRoom } from "../client";
import { ErrorLine, FieldForm } from "./forms";
import { useAction } from "./hooks";
import { NotificationsOffer } from "./notifications";

export function Sidebar({
  client,
  onPicked,
}: {
  client: ChatClient;
  onPicked: () => void;
}) {
  const state = client.state;
  const [error, act] = useAction();
  const [isPrivate, setPrivate] = useState(false);
  const [listed, setListed] = useState<ListedRoom[] | null>(null);
  const join = async (room: string) => {
    await client.join(room);
    setListed(null);
    onPicked();
  };
  return (
    <nav class="sidebar" aria-label="Rooms">
      <h2>Rooms</h2>
      <NotificationsOffer />
      <ul class="rooms">
        {state.ordered().map((room) => {
          const log = state.rooms.get(room)!;
          const current = room === state.current;
          return (
            <li key={room}>
              <button
                class={current ? "room current" : "room"}
                aria-current={current ? "page" : undefined}
                onClick={() => {
                  client.switchTo(room);
                  onPicked();
                }}
              >
                <span class="room-name">
                  {log.details.private && !log.details.direct ? "🔒 " : ""}
                  {state.title(room)}
                </span>
                {log.mentions > 0 && (
                  <span
                    class="mention-count"
                    aria-label={`${log.mentions} mentioning you`}
                  >
                    @{log.mentions}
                  </span>
                )}
                {log.unread > 0 && (
                  <span class="unread" aria-label={`${log.unread} unread`}>
                    {log.unread}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
      {state.invitations.size > 0 && (
        <>
          <h2>Invitations</h2>
          <ul class="invitations">
            {[...state.invitations].map(([room, by]) => (
              <li key={room}>
                <span>
                  {room}
                  {by && <span class="hint"> from {by}</span>}
                </span>
                <button onClick={() => act(() => join(room))}>Join</button>
              </li>
            ))}
          </ul>
        </>
      )}
      <section class="side-form">
        <FieldForm
          label="Join a room"
          name="join"
          placeholder="room name"
          button="Join"
          action={join}
        >
          <button
            type="button"
            class="secondary"
            onClick={() =>
              listed
                ? setListed(null)
                : act(() => client.listRooms(), setListed)
            }
          >
            {listed ? "Hide list" : "Browse"}
          </button>
        </FieldForm>
        {listed && (
          <Listed
            rooms={listed}
            client={client}
            join={(room) => act(() => join(room))}
          />
        )}
      </section>
      <ErrorLine error={error} />
      {state.registered ? (
        <>
          <section class="side-form">
            <FieldForm
              label="New room"
              name="create"
              placeholder="room name"
              button="Create"
              action={async (room) => {
                await client.create(room, isPrivate);
                onPicked();
              }}
              options={
                <label class="check">
                  <input
                    type="checkbox"
                    name="private"
                    checked={isPrivate}
                    onChange={(e) => setPrivate(e.currentTarget.checked)}
                  />
                  private (only those invited)
                </label>
              }
            />
          </section>
          <section class="side-form">
            <FieldForm
              label="Message an account"
              name="direct"
              placeholder="name"
              button="Open"
              action={async (name) => {
                await client.openDirect(name);
                onPicked();
              }}
            />
          </section>
        </>
      ) : (
        <p class="hint">
          Guests join rooms; register an account to create rooms and send direct
          messages.
        </p>
      )}
    </nav>
  );
}

/** The rooms the server lists that the user is not in. */
function Listed({
  rooms,
  client,
  join,
}: {
  rooms: ListedRoom[];
  client: ChatClient;
  join: (room: string) => void;
}) {
  const others = rooms.filter((r) => !client.state.rooms.has(r.name));
  return (
    <ul class="listed">
      {others.length === 0 && <li class="hint">No other rooms to join.</li>}
      {others.map((r) => (
        <li key={r.name}>
          <button class="link" onClick={() => join(r.name)}>
            {r.private ? "🔒 " : ""}
            {r.name}
          </button>
          <span class="hint">
            {r.members} {r.members === 1 ? "member" : "members"}
            {r.topic ? ` · ${r.topic}` : ""}
          </span>
        </li>
      ))}
    </ul>
  );
}
