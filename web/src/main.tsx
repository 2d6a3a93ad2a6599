// The web client's entry: a client on the page's own origin, and the view.

import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { render } from "preact";

import { ChatClient } from "./client";
import { App } from "./ui/App";
import "./style.css";

const client = new ChatClient(
  createGrpcWebTransport({ baseUrl: location.origin }),
  localStorage,
);
client.resume();
render(<App client={client} />, document.getElementById("app")!);
