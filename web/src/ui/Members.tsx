// The members of the room in view, with presence, and what the user's
// role lets it do to each.

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { Role } from "../state";
import type { Member, RoomAction } from "../state";
import { ErrorLine } from "./forms";
import { useAction } from "./hooks";

export function Members({
  client,
  onPicked,
}: {
  client: ChatClient;
  onPicked: () => void;
}) {
  const state = client.state;
  const log = state.currentLog();
  const [open, setOpen] = useState<string | null>(null);
  const [error, act] = useAction();
  if (!log || state.current === null) return null;
  const room = state.current;
  const myRole = log.details.direct ? Role.MEMBER : state.myRole(room);
  const members = [...log.members.values()].sort(
    (a, b) =>
      b.role - a.role ||
      Number(b.online) - Number(a.online) ||
      a.name.localeCompare(b.name),
  );
  const online = members.filter((m) => m.online).length;
  return (
    <aside class="members" aria-label="Members">
      <h2>
        Members{" "}
        <span class="hint">
          {online} online of {members.length}
        </span>
      </h2>
      <ul>
        {members.map((member) => {
          const choices =
            member.name === state.me
              ? []
              : memberChoices(myRole, member, state.registered);
          return (
            <li key={member.name}>
              <button
                class="member"
                aria-expanded={open === member.name}
                disabled={choices.length === 0}
                onClick={() =>
                  setOpen(open === member.name ? null : member.name)
                }
                onKeyDown={(e) => {
                  if (e.key === "Escape") setOpen(null);
                }}
              >
                <span
                  class={member.online ? "presence online" : "presence"}
                  aria-label={member.online ? "online" : "offline"}
                  title={member.online ? "online" : "offline"}
                />
                <span class="member-name">{member.name}</span>
                {member.role === Role.OWNER && <span class="badge">owner</span>}
                {member.role === Role.MODERATOR && (
                  <span class="badge">mod</span>
                )}
                {member.muted && <span class="badge">muted</span>}
              </button>
              {open === member.name && (
                <ul class="menu" role="menu">
                  {choices.map(([label, choice]) => (
                    <li key={label}>
                      <button
                        role="menuitem"
                        onClick={() => {
                          setOpen(null);
                          if (choice === "message") {
                            act(() => client.openDirect(member.name), onPicked);
                          } else {
                            act(() => client.moderate(room, choice));
                          }
                        }}
                        onKeyDown={(e) => {
                          if (e.key === "Escape") setOpen(null);
                        }}
                      >
                        {label}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
      <ErrorLine error={error} />
    </aside>
  );
}

type Choice = "message" | RoomAction;

/** What a user of role `role` may do to `member`, as menu entries (as
 * chat-gui's member menu). */
export function memberChoices(
  role: Role,
  member: Member,
  registered: boolean,
): [string, Choice][] {
  const name = member.name;
  const choices: [string, Choice][] = [];
  if (registered && !member.guest) choices.push(["Message", "message"]);
  if (role > member.role && role >= Role.MODERATOR) {
    choices.push(["Kick", { case: "kick", value: name }]);
    choices.push(["Ban", { case: "ban", value: name }]);
    choices.push(
      member.muted
        ? ["Unmute", { case: "unmute", value: name }]
        : ["Mute", { case: "mute", value: name }],
    );
  }
  if (role === Role.OWNER && !member.guest) {
    choices.push(
      member.role === Role.MODERATOR
        ? ["Remove moderator", { case: "demote", value: name }]
        : ["Make moderator", { case: "promote", value: name }],
    );
    choices.push(["Make owner", { case: "transferOwnership", value: name }]);
  }
  return choices;
}
