// Browser notifications: asked for only when the user clicks to have
// them, and shown for what the room's level tells of while the page is
// not looked at.

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import type { ChatMessage } from "../state";

function supported(): boolean {
  return typeof Notification !== "undefined";
}

/** Shows `message` as a notification, if the user allowed them and does
 * not look at the page. One per room at a time: a newer one replaces it.
 * Clicking it brings the room into view. */
export function notify(client: ChatClient, message: ChatMessage) {
  if (!supported() || Notification.permission !== "granted") return;
  if (client.state.visible) return;
  const room = message.room;
  const log = client.state.rooms.get(room);
  const title = log?.details.direct
    ? message.sender
    : `${message.sender} in ${client.state.title(room)}`;
  const shown = new Notification(title, {
    body: message.text,
    tag: room,
  });
  shown.onclick = () => {
    window.focus();
    client.switchTo(room);
    shown.close();
  };
}

/** A button that asks for permission to notify, while it is undecided. */
export function NotificationsOffer() {
  const [, redraw] = useState(0);
  if (!supported() || Notification.permission !== "default") return null;
  return (
    <button
      class="link notifications-offer"
      onClick={() =>
        void Notification.requestPermission().then(() => redraw((n) => n + 1))
      }
    >
      🔔 Turn on notifications
    </button>
  );
}
