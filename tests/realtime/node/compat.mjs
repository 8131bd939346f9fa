// Drives a Parley server with the npm socket.io-client v4, as any front end would.
// Usage: node compat.mjs URL ALICE_TOKEN BOB_TOKEN CONVERSATION_ID  -> prints one JSON summary.
import { io } from "socket.io-client";

const [url, aliceToken, bobToken, conversationId] = process.argv.slice(2);
const TIMEOUT_MS = 10000;
const result = {};

function connect(token) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject(error));
  });
}

function next(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event}`)), TIMEOUT_MS);
    socket.once(event, (data) => { clearTimeout(timer); resolve(data); });
  });
}

try {
  try {
    await connect("forged.token.value");
    result.badToken = "accepted";
  } catch (error) {
    result.badToken = error.message;
  }
  const alice = await connect(aliceToken);
  const bob = await connect(bobToken);

  const delivered = next(bob, "new_message");
  const confirmed = next(alice, "message_confirmed");
  const ack = await alice.timeout(TIMEOUT_MS).emitWithAck("send_message", {
    conversationId, content: "hello from node", clientMessageId: "node-1",
  });
  result.ack = { ok: ack.ok, status: ack.message.status, id: ack.message.id };
  result.newMessage = (await delivered).message;
  result.confirmed = (await confirmed).clientMessageId;

  const typing = next(bob, "user_typing");
  await alice.timeout(TIMEOUT_MS).emitWithAck("typing_start", { conversationId });
  result.typing = await typing;
  // Stopped here, not left to expire: the expiry would reach the next test's sockets of
  // the same (shared) users two seconds later.
  const stopped = next(bob, "user_typing");
  await alice.timeout(TIMEOUT_MS).emitWithAck("typing_stop", { conversationId });
  result.typingStopped = await stopped;

  const receipt = next(alice, "message_read_receipt");
  result.readAck = await bob.timeout(TIMEOUT_MS).emitWithAck("mark_messages_read", {
    conversationId, messageId: ack.message.id,
  });
  result.receipt = await receipt;

  result.sync = await bob.timeout(TIMEOUT_MS).emitWithAck("sync", { conversationId, afterSeq: 0 });
  alice.disconnect();
  bob.disconnect();
  console.log(JSON.stringify(result));
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ ...result, error: String(error) }));
  process.exit(1);
}
