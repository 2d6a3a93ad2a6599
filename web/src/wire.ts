// The server's wire types in the page's terms: events from the stream as
// `ChatEvent`s, messages, members and rooms, and a failed call in words.

import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import type {
  Event as WireEvent,
  Member as WireMember,
  Message as WireMessage,
  Room as WireRoom,
} from "./gen/chat/v1/chat_pb";
import { NotifyLevel } from "./state";
import type {
  ChatEvent,
  ChatMessage,
  Member,
  RoomAction,
  RoomDetails,
} from "./state";

/** What a failed call says when the server cannot be reached. */
export const UNREACHED = "cannot reach the server";

/** A stream event as a change to what the user sees; null for one the
 * page does not show. */
export function toEvent(wire: WireEvent): ChatEvent | null {
  const event = wire.event;
  switch (event.case) {
    case "message":
      return { type: "message", message: toMessage(event.value) };
    case "messageUpdated": {
      const { message, seq } = event.value;
      if (!message) return null;
      return {
        type: "messageUpdated",
        message: toMessage(message),
        seq: Number(seq),
      };
    }
    case "typing": {
      const { room, name, typing } = event.value;
      return { type: "typing", room, name, typing };
    }
    case "roomJoined": {
      const { room, members, lastSeq, details } = event.value;
      return {
        type: "roomJoined",
        details: toDetails(details, room),
        members: members.map(toMember),
        lastSeq: Number(lastSeq),
        read: details && {
          seq: Number(details.readSeq),
          unread: details.unreadCount,
          mentions: details.mentionCount,
        },
      };
    }
    case "notifyChanged":
      return {
        type: "notifySet",
        room: event.value.room,
        level: event.value.level,
      };
    case "readMarker":
      return {
        type: "readMarker",
        room: event.value.room,
        seq: Number(event.value.seq),
      };
    case "roomLeft":
      return { type: "roomLeft", ...event.value };
    case "roomChanged": {
      const action = event.value.action?.action;
      if (!action || !action.case) return null;
      const { room, actor } = event.value;
      return { type: "roomChanged", room, actor, action: action as RoomAction };
    }
    case "invited":
      return { type: "invited", room: event.value.room, by: event.value.by };
    case "memberJoined": {
      const { room, name, online, guest } = event.value;
      return { type: "memberJoined", room, name, online, guest };
    }
    case "memberLeft":
      return { type: "memberLeft", ...event.value };
    case "presence":
      return { type: "presence", ...event.value };
    case "fellBehind": {
      const { room, firstMissedSeq, resumedAtSeq } = event.value;
      return {
        type: "fellBehind",
        room,
        firstMissed: Number(firstMissedSeq),
        resumedAt: Number(resumedAtSeq),
      };
    }
    default:
      return null;
  }
}

export function toMessage(message: WireMessage): ChatMessage {
  return {
    room: message.room,
    seq: Number(message.seq),
    sender: message.sender,
    text: message.text,
    sentAt: message.sentAt ? timestampDate(message.sentAt) : new Date(0),
    origin: message.origin,
    clientId: message.clientMessageId,
    replyTo: Number(message.replyTo),
    editedAt: message.editedAt ? timestampDate(message.editedAt) : null,
    deleted: message.deleted,
    deletedBy: message.deletedBy,
    reactions: message.reactions.map(({ emoji, count, names }) => ({
      emoji,
      count,
      names,
    })),
    mentions: message.mentions,
    mentionsRoom: message.mentionsRoom,
    files: message.attachments.map((file) => ({
      id: file.id,
      name: file.name,
      mimeType: file.mimeType,
      size: Number(file.size),
      width: file.width,
      height: file.height,
      url: file.url,
      thumbnailUrl: file.thumbnailUrl,
    })),
  };
}

function toMember(member: WireMember): Member {
  return {
    name: member.name,
    online: member.online,
    role: member.role,
    muted: member.muted,
    guest: member.guest,
  };
}

export function toDetails(
  room: WireRoom | undefined,
  name: string,
): RoomDetails {
  return {
    name,
    private: room?.private ?? false,
    direct: room?.direct ?? false,
    topic: room?.topic ?? "",
    owner: room?.owner ?? "",
    peer: room?.peer ?? "",
    notify: room?.notify ?? NotifyLevel.UNSPECIFIED,
  };
}

export function authorization(token: string): Headers {
  return new Headers({ authorization: `Bearer ${token}` });
}

/** Failures that a retry may get past. */
export function isTransient(failure: ConnectError): boolean {
  return [
    Code.Unavailable,
    Code.Unknown,
    Code.Canceled,
    Code.DeadlineExceeded,
    Code.Internal,
    Code.Unauthenticated,
  ].includes(failure.code);
}

/** Why a call failed, in words: the server's, or that it is out of reach
 * (the browser's fetch failed, or the server said it is unavailable
 * without saying why). */
export function reason(failure: ConnectError): string {
  const unreached =
    failure.cause instanceof TypeError ||
    (failure.code === Code.Unavailable && !failure.rawMessage);
  if (unreached) return UNREACHED;
  return failure.rawMessage || Code[failure.code];
}

/** `call`, failing with an Error that says why. */
export async function friendly<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw new Error(reason(ConnectError.from(error)));
  }
}
