// One W1 member (bench/w1.py): one socket.io-client v4 socket in its own Node process.
// Usage: node member.mjs CONFIG_JSON INDEX OUT_JSON
// Protocol with the orchestrator: prints "ready" once connected, waits for "go" on stdin; a
// sender (perSender[INDEX] > 0) then sends closed loop (send_message, wait for the ack, send
// the next) and prints "sent N" (N acked). Every member records each new_message; it writes OUT_JSON and
// prints "done" once it has everything it expects (every other sender's acked messages, and as
// a sender every confirmation), or when "stop" arrives on stdin. "acked N0,N1,..." on stdin
// tells it how many sends of each member were acked, once all have finished sending.
// Times are CLOCK_MONOTONIC (process.hrtime) in ms, shared by every process on the machine.
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [configPath, indexText, outPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, "utf8"));
const index = Number(indexText);
const toSend = config.perSender[index] ?? 0;
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000;

const sends = []; // [clientMessageId, sentAt, ackedAt, status]
let ackedCount = 0;
const confirms = []; // [clientMessageId, confirmedAt]
const failures = []; // [clientMessageId, code] from message_failed
const received = new Map(); // clientMessageId -> first arrival
let duplicates = 0;
let disconnects = 0;
let sendingDone = toSend === 0;
let finished = false;
// Messages of the others this member must see; the orchestrator stops it if some never come.
// Until every sender has reported how many of its sends were acked ("acked" on stdin), the plan.
const othersTotal = (counts) => counts.reduce((sum, n, i) => (i === index ? sum : sum + n), 0);
let expectedFromOthers = othersTotal(config.perSender);
let fromOthers = 0;
const ownPrefix = `${config.tag}-${index}-`;

function keyOf(message) {
  return message?.clientMessageId ?? String(message?.content ?? "").replace(/^W1 /, "");
}

function finish() {
  if (finished) return;
  finished = true;
  writeFileSync(
    outPath,
    JSON.stringify({
      index,
      sends,
      confirms,
      failures,
      received: [...received.entries()],
      duplicates,
      disconnects,
    }),
  );
  console.log("done");
  socket.disconnect();
  process.exit(0);
}

function maybeFinish() {
  const confirmed = !config.expectConfirm || confirms.length + failures.length >= ackedCount;
  if (sendingDone && confirmed && fromOthers >= expectedFromOthers) finish();
}

const socket = io(config.url, {
  auth: { token: config.tokens[index], conversationId: config.conversationId },
  transports: ["websocket"],
  reconnection: false,
});

socket.on("new_message", (data) => {
  const at = now();
  const key = keyOf(data?.message);
  if (received.has(key)) {
    duplicates += 1;
    return;
  }
  received.set(key, at);
  if (!key.startsWith(ownPrefix)) fromOthers += 1;
  maybeFinish();
});
socket.on("message_confirmed", (data) => {
  confirms.push([data.clientMessageId, now()]);
  maybeFinish();
});
socket.on("message_failed", (data) => {
  failures.push([data.clientMessageId, data.error?.code ?? "FAILED"]);
  maybeFinish();
});
socket.on("disconnect", (reason) => {
  if (finished) return;
  disconnects += 1;
  console.error(`member ${index}: disconnected (${reason})`);
});
socket.once("connect_error", (error) => {
  console.error(`member ${index}: connect_error ${error.message}`);
  process.exit(2);
});

async function sendAll() {
  for (let seq = 0; seq < toSend; seq += 1) {
    if (!socket.connected) break; // the server went away: the run is spoilt, do not wait out timeouts
    const clientMessageId = `${ownPrefix}${seq}`;
    const sentAt = now();
    let status;
    try {
      const ack = await socket.timeout(config.ackTimeoutMs).emitWithAck("send_message", {
        conversationId: config.conversationId,
        content: `W1 ${clientMessageId}`,
        clientMessageId,
      });
      status = ack?.ok ? "ok" : String(ack?.error?.code ?? "NOT_OK");
    } catch {
      status = "TIMEOUT";
    }
    sends.push([clientMessageId, sentAt, now(), status]);
    if (status === "ok") ackedCount += 1;
  }
  sendingDone = true;
  console.log(`sent ${ackedCount}`);
  maybeFinish();
}

socket.once("connect", () => {
  console.log("ready");
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line === "go") {
      if (toSend > 0) sendAll();
      else maybeFinish();
    } else if (line.startsWith("acked ")) {
      expectedFromOthers = othersTotal(line.slice(6).split(",").map(Number));
      maybeFinish();
    } else if (line === "stop") {
      finish();
    }
  });
});
