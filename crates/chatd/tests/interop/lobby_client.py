"""A lobby-protocol client written with Python grpcio, generated from
proto/lobby/lobby_chat.proto at test time, doing what the seed's console
client does.

Usage: lobby_client.py AGENT_HOST:PORT

Logs in, keeps a heartbeat, makes a channel and prints "CHANNEL N". Then
waits for a Rust user to join and say "hello from Rust 🦀", answers it,
checks a bad command gets FAILURE, and prints OK.
"""

import sys

import grpc

import lobby_chat_pb2 as pb
import lobby_chat_pb2_grpc as rpc

TIMEOUT = 30


def main(agent_address):
    login = rpc.AgentStub(grpc.insecure_channel(agent_address)).TryLogin(
        pb.LoginRequest(ip="127.0.0.1"), timeout=TIMEOUT
    )
    me = login.index

    heartbeat = rpc.HeartbeatStub(grpc.insecure_channel(login.heartbeat_ip))
    beats = heartbeat.TryHeartbeat(pb.HeartbeatRequest(index=me), timeout=TIMEOUT)
    assert next(beats).time > 0
    lives = heartbeat.TryUserLives(pb.UserRequest(index=me), timeout=TIMEOUT)
    assert lives.status == pb.UserLivesReply.LIVE, lives

    lobby = rpc.LobbyStub(grpc.insecure_channel(login.lobby_ip))
    made = lobby.TryCommand(
        pb.CommandRequest(status=pb.CommandRequest.MAKE_CHANNEL, index=me),
        timeout=TIMEOUT,
    )
    assert made.status == pb.CommandReply.SUCCESS, made
    port = made.channels[0]
    assert made.address.endswith(f":{port}"), made

    channel = rpc.ChannelStub(grpc.insecure_channel(made.address))
    statuses = channel.TryStatusRequest(pb.UserRequest(index=me), timeout=TIMEOUT)
    first = next(statuses)
    assert (first.status, first.index, first.channel) == (pb.StatusReply.JOIN_USER, me, port), first
    chats = channel.TryChatReceive(pb.Chat(index=me), timeout=TIMEOUT)
    print(f"CHANNEL {port}", flush=True)

    joined = next(statuses)
    assert joined.status == pb.StatusReply.JOIN_USER and joined.channel == port, joined
    hello = next(chats)
    assert (hello.index, hello.text) == (joined.index, "hello from Rust 🦀"), hello
    channel.TryChatSend(pb.Chat(index=me, text="안녕 from Python 🐍"), timeout=TIMEOUT)

    users = lobby.TryCommand(
        pb.CommandRequest(status=pb.CommandRequest.LIST_USERS, index=me, channel=port),
        timeout=TIMEOUT,
    )
    assert sorted(users.users) == sorted([me, joined.index]), users
    assert list(users.channels) == [port, port], users

    unknown = lobby.TryCommand(pb.CommandRequest(status=42, index=me), timeout=TIMEOUT)
    assert unknown.status == pb.CommandReply.FAILURE, unknown

    beats.cancel()
    statuses.cancel()
    chats.cancel()
    print("OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
