// The rooms the user is in, invitations, and ways to find or make more.

import { useState } from "preact/hooks";

import type { ChatClient, ListedRoom } from "../client";
import { useAction } from "./hooks";

export function Sidebar({
  client,
  onPicked,
}: {
  client: ChatClient;
  onPicked: () => void;
}) {
  const state = client.state;
  const [error, act] = useAction();
  return (
    <nav class="sidebar" aria-label="Rooms">
      <h2>Rooms</h2>
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
                <button onClick={() => act(() => client.join(room), onPicked)}>
                  Join
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <JoinRoom client={client} onPicked={onPicked} />
      {state.registered ? (
        <>
          <CreateRoom client={client} onPicked={onPicked} />
          <OpenDirect client={client} onPicked={onPicked} />
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

function JoinRoom({
  client,
  onPicked,
}: {
  client: ChatClient;
  onPicked: () => void;
}) {
  const [room, setRoom] = useState("");
  const [listed, setListed] = useState<ListedRoom[] | null>(null);
  const [error, act] = useAction();
  const join = (name: string) =>
    act(
      () => client.join(name),
      () => {
        setRoom("");
        setListed(null);
        onPicked();
      },
    );
  return (
    <section class="side-form">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (room.trim()) join(room.trim());
        }}
      >
        <label>
          Join a room
          <input
            name="join"
            placeholder="room name"
            value={room}
            onInput={(e) => setRoom(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Join</button>
        <button
          type="button"
          class="secondary"
          onClick={() =>
            listed ? setListed(null) : act(() => client.listRooms(), setListed)
          }
        >
          {listed ? "Hide list" : "Browse"}
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {listed && <Listed rooms={listed} client={client} join={join} />}
    </section>
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

function CreateRoom({
  client,
  onPicked,
}: {
  client: ChatClient;
  onPicked: () => void;
}) {
  const [room, setRoom] = useState("");
  const [isPrivate, setPrivate] = useState(false);
  const [error, act] = useAction();
  return (
    <section class="side-form">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!room.trim()) return;
          act(
            () => client.create(room.trim(), isPrivate),
            () => {
              setRoom("");
              onPicked();
            },
          );
        }}
      >
        <label>
          New room
          <input
            name="create"
            placeholder="room name"
            value={room}
            onInput={(e) => setRoom(e.currentTarget.value)}
          />
        </label>
        <label class="check">
          <input
            type="checkbox"
            name="private"
            checked={isPrivate}
            onChange={(e) => setPrivate(e.currentTarget.checked)}
          />
          private (only those invited)
        </label>
        <button type="submit">Create</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function OpenDirect({
  client,
  onPicked,
}: {
  client: ChatClient;
  onPicked: () => void;
}) {
  const [name, setName] = useState("");
  const [error, act] = useAction();
  return (
    <section class="side-form">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!name.trim()) return;
          act(
            () => client.openDirect(name.trim()),
            () => {
              setName("");
              onPicked();
            },
          );
        }}
      >
        <label>
          Message an account
          <input
            name="direct"
            placeholder="name"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Open</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
