"""A classic-protocol client written with Python grpcio, the seed's own
stack, generated from proto/classic/classic_chat.proto at test time.

Usage: classic_client.py HOST:PORT

Checks, against a running chatd whose room holds one note from "rust":
history comes first, its own notes come back in order, bad input gets
INVALID_ARGUMENT, and a live note from the Rust side arrives. Prints READY
when it waits for that live note, and OK when all is well.
"""

import sys

import grpc

import classic_chat_pb2 as pb
import classic_chat_pb2_grpc as rpc

TIMEOUT = 30


def main(addr):
    with grpc.insecure_channel(addr) as channel:
        stub = rpc.ChatServerStub(channel)
        stream = stub.ChatStream(pb.Empty(), timeout=TIMEOUT)

        first = next(stream)
        assert (first.name, first.message) == ("rust", "안녕 from Rust 🦀"), first

        mine = [("파이썬", "안녕하세요 🐍"), ("python", "second note")]
        for name, message in mine:
            stub.SendNote(pb.Note(name=name, message=message), timeout=TIMEOUT)
        echoed = [next(stream) for _ in mine]
        assert [(n.name, n.message) for n in echoed] == mine, echoed

        try:
            stub.SendNote(pb.Note(name="", message="no name"), timeout=TIMEOUT)
            raise AssertionError("a note without a name was accepted")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
            assert "name is empty" in error.details(), error.details()

        print("READY", flush=True)
        live = next(stream)
        assert (live.name, live.message) == ("rust", "live from Rust"), live
        stream.cancel()
    print("OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
