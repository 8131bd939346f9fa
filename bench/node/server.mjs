// W1's bare Node socket.io server (bench/w1.py): default settings, stores nothing, checks
// nothing. A socket joins the room named by its handshake's auth.conversationId; each
// send_message is broadcast to that room as new_message (the sender's socket included, as
// Parley's conversation room does) and acknowledged with {ok, message}.
// Usage: node server.mjs PORT
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const httpServer = createServer();
const io = new Server(httpServer);
let lastId = 0;

io.on("connection", (socket) => {
  const room = String(socket.handshake.auth?.conversationId ?? "w1");
  socket.join(room);
  socket.on("send_message", (data, ack) => {
    lastId += 1;
    const message = {
      id: String(lastId),
      conversationId: data.conversationId,
      content: data.content,
      clientMessageId: data.clientMessageId,
      status: "SENT",
    };
    io.to(String(data.conversationId)).emit("new_message", { message });
    if (typeof ack === "function") ack({ ok: true, message });
  });
});

httpServer.listen(port, "127.0.0.1");
