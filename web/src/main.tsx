// The web client's entry: a client on the page's own origin (and, in a
// cluster, the other nodes), and the view.

import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { render } from "preact";

import { ChatClient } from "./client";
import { Servers } from "./servers";
import { App } from "./ui/App";
import "./style.css";

const client = new ChatClient(
  new Servers(location.origin, (baseUrl) =>
    createGrpcWebTransport({ baseUrl }),
  ),
  localStorage,
);
client.resume();
render(<App client={client} />, document.getElementById("app")!);
