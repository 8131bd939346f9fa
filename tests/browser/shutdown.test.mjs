// An instance that stops tells each socket when to reconnect (`server_shutdown
// {reconnectAfterMs}`, docs/api.md): the web client waits for that delay, whether it leaves on
// its own or the server cuts it first, instead of reconnecting at once with every other
// client of the instance. The test plays the stopping server on the page's websocket (the
// session's server keeps running), so it needs no second instance.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  confirmed,
  createConversation,
  logIn,
  messageItem,
  openConversation,
  openTab,
  person,
  registerUser,
  send,
  sharedBrowser,
} from "./harness.mjs";

const browser = sharedBrowser();
const DELAY_MS = 1500;

/**
 * Passes the page's socket.io websockets through to the server, records when each opened, and
 * lets the test speak as the server on the newest one.
 */
async function socketTap(page) {
  const opened = [];
  let current = null;
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    opened.push(Date.now());
    current = ws;
    ws.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => ws.send(frame));
    ws.onClose(() => server.close());
  });
  return {
    opened,
    /** Sends a socket.io frame to the page as if the server had. */
    fromServer(frame) {
      current.send(frame);
    },
    async waitForConnections(count) {
      const deadline = Date.now() + 10_000;
      while (opened.length < count) {
        assert.ok(Date.now() < deadline, `no websocket number ${count} within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
}

async function signedIn(name) {
  const user = await registerUser(name);
  const tab = await openTab(browser.current);
  const tap = await socketTap(tab.page);
  await logIn(tab.page, user);
  return { ...tab, user, tap };
}

const hint = `42["server_shutdown",{"reconnectAfterMs":${DELAY_MS}}]`;

test("told the server is stopping, the page reconnects after the delay it was given", async () => {
  const alice = await signedIn("Alice");
  const bob = await person(browser.current, "Bob");
  const conversation = await createConversation(alice.user, [bob.user]);
  await openConversation(alice.page, conversation);
  await openConversation(bob.page, conversation);
  assert.equal(alice.tap.opened.length, 1);

  const told = Date.now();
  alice.tap.fromServer(hint);
  await alice.tap.waitForConnections(2);
  const waited = alice.tap.opened[1] - told;
  assert.ok(waited >= DELAY_MS - 50, `reconnected after ${waited} ms`);
  await alice.page.getByRole("banner").getByText("Online").waitFor();

  // The new socket works: a send is confirmed and reaches Bob.
  await send(alice.page, "After the move");
  await confirmed(messageItem(alice.page, "After the move")).waitFor();
  await messageItem(bob.page, "After the move").waitFor();
  alice.console.assertClean();
  await alice.context.close();
  await bob.context.close();
});

test("cut by the server before its delay, the page still waits for the delay", async () => {
  const alice = await signedIn("Alice");
  const told = Date.now();
  alice.tap.fromServer(hint);
  alice.tap.fromServer("41"); // the server's disconnect of the default namespace
  await alice.page.getByRole("banner").getByText("Offline").waitFor();
  await alice.tap.waitForConnections(2);
  const waited = alice.tap.opened[1] - told;
  assert.ok(waited >= DELAY_MS - 50, `reconnected after ${waited} ms`);
  await alice.page.getByRole("banner").getByText("Online").waitFor();
  alice.console.assertClean();
  await alice.context.close();
});
