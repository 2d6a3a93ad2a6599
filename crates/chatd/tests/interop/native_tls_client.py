"""A native-protocol client written with Python grpcio, over TLS.

Usage: native_tls_client.py HOST:PORT CA_CERT_FILE

Against a chatd serving TLS with a certificate CA_CERT_FILE vouches for:
registers an account, logs in to it again, asks WhoAmI, and checks that a
plaintext channel to the same port fails at once (UNAVAILABLE), not after
a hang. Prints OK when all is well.
"""

import sys

import grpc

import chat_pb2 as pb
import chat_pb2_grpc as rpc

TIMEOUT = 20


def main(addr, ca_file):
    with open(ca_file, "rb") as file:
        credentials = grpc.ssl_channel_credentials(root_certificates=file.read())
    with grpc.secure_channel(addr, credentials) as channel:
        stub = rpc.ChatServiceStub(channel)
        stub.Register(pb.RegisterRequest(name="파이썬", password="a python password"), timeout=TIMEOUT)
        login = stub.Login(pb.LoginRequest(name="파이썬", password="a python password"), timeout=TIMEOUT)
        who = stub.WhoAmI(
            pb.WhoAmIRequest(),
            metadata=[("authorization", "Bearer " + login.session_token)],
            timeout=TIMEOUT,
        )
        assert (who.name, who.registered) == ("파이썬", True), who

    with grpc.insecure_channel(addr) as channel:
        stub = rpc.ChatServiceStub(channel)
        try:
            stub.Login(pb.LoginRequest(name="plain"), timeout=TIMEOUT)
            raise AssertionError("a plaintext call to a TLS port succeeded")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    print("OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
