// The official Foxglove WebSocket client (@foxglove/ws-protocol) against an endpoint:
//   node foxglove_client.mjs ws://HOST:PORT TOPIC COUNT
// Prints "subscribed" once it has subscribed to TOPIC, then one JSON line:
// {serverInfo, channels, messages: [decoded JSON records], subscriptionIds}
// and exits 0; exits 1 on an error or if TOPIC is not advertised within 20 s.
import protocol from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = protocol;

const [url, topic, countText] = process.argv.slice(2);
const wanted = Number(countText);
const client = new FoxgloveClient({
  ws: new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]),
});
const decoder = new TextDecoder();
const result = { serverInfo: null, channels: [], messages: [], statuses: [] };
let subscription = null;
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "timed out", ...result }));
  process.exit(1);
}, 20000);

client.on("error", (e) => {
  console.log(JSON.stringify({ error: String(e) }));
  process.exit(1);
});
client.on("serverInfo", (info) => { result.serverInfo = info; });
client.on("status", (s) => { result.statuses.push(s); });
client.on("advertise", (channels) => {
  result.channels.push(...channels);
  const channel = channels.find((c) => c.topic === topic);
  if (channel && subscription === null) {
    subscription = client.subscribe(channel.id);
    console.log("subscribed");
  }
});
client.on("message", ({ subscriptionId, timestamp, data }) => {
  if (subscriptionId !== subscription) return;
  const record = JSON.parse(decoder.decode(data));
  result.messages.push({ record, timestamp: timestamp.toString() });
  if (result.messages.length >= wanted) {
    clearTimeout(timer);
    console.log(JSON.stringify(result));
    client.close();
    process.exit(0);
  }
});
