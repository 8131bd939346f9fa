// The outbox kept in IndexedDB (issue 14): a pending send survives a reload and a network drop,
// is resent once the socket is back, arrives once and in order for both people; a transient
// refusal is retried by itself (shown "Not sent yet" with "Retry now" when the wait is long);
// a refused one stays failed across a reload until Discard; logging out forgets it.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  api,
  CONNECT_TIMEOUT_MS,
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
  twoInConversation,
} from "./harness.mjs";

const browser = sharedBrowser();

// Chromium reports each refused or dropped reconnect socket.io tries as a console error.
const RECONNECT_ERRORS = /WebSocket connection .* failed|WebSocket is closed/;

/**
 * A gate on this page's socket.io websocket: while shut, the page's connections are closed and
 * new ones refused, so the page stays offline while plain HTTP (the page itself, the REST API)
 * still works: a reload loads the app with no socket. Set up before the page connects.
 */
async function socketGate(page) {
  let shut = false;
  const open = new Set();
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (shut) {
      // Closed from the server's side: the page sees a failed connect and retries later.
      ws.connectToServer().close();
      return;
    }
    const server = ws.connectToServer();
    const pair = { ws, server };
    open.add(pair);
    ws.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => ws.send(frame));
    ws.onClose(() => open.delete(pair));
  });
  return {
    shut() {
      shut = true;
      for (const { ws, server } of open) {
        ws.close();
        server.close();
      }
      open.clear();
    },
    open() {
      shut = false;
    },
  };
}

function banner(page, text) {
  return page.getByRole("banner").getByText(text);
}

async function shownContents(page) {
  return page.getByRole("log").getByRole("listitem").locator(".content").allTextContents();
}

test("a pending send survives a reload and is sent once when the socket is back", async () => {
  const aliceUser = await registerUser("Alice");
  const alice = await openTab(browser.current);
  const gate = await socketGate(alice.page);
  await logIn(alice.page, aliceUser);
  const bob = await person(browser.current, "Bob");
  const conversation = await createConversation(aliceUser, [bob.user]);
  await openConversation(alice.page, conversation);
  await openConversation(bob.page, conversation);

  const content = "Kept across a reload";
  await alice.console.tolerate(RECONNECT_ERRORS, async () => {
    gate.shut();
    await banner(alice.page, "Offline").waitFor();
    await send(alice.page, content);
    await messageItem(alice.page, content).getByText("Sending…").waitFor();

    await alice.page.reload();
    await alice.page.getByRole("heading", { name: conversation.name }).waitFor();
    // From the outbox: pending again, and the server has still not seen it.
    await messageItem(alice.page, content).getByText("Sending…").waitFor();
    await banner(alice.page, "Offline").waitFor();
    assert.equal(await messageItem(alice.page, content).count(), 1);
    assert.equal(await messageItem(bob.page, content).count(), 0);

    gate.open();
    await banner(alice.page, "Online").waitFor({ timeout: CONNECT_TIMEOUT_MS });
  });
  await confirmed(messageItem(alice.page, content)).waitFor();
  await messageItem(bob.page, content).waitFor();
  assert.equal(await messageItem(alice.page, content).count(), 1);
  assert.equal(await messageItem(bob.page, content).count(), 1);
  const stored = await api("GET", `/messages/conversation/${conversation.id}`, {
    token: aliceUser.token,
  });
  assert.deepEqual(
    stored.items.map((message) => message.content),
    [content],
  );

  // Confirmed means out of the outbox: another reload shows it once, sent, not pending.
  await alice.page.reload();
  await confirmed(messageItem(alice.page, content)).waitFor();
  assert.equal(await messageItem(alice.page, content).count(), 1);
  assert.equal(await messageItem(alice.page, content).getByText("Sending…").count(), 0);

  alice.console.assertClean();
  bob.console.assertClean();
  await alice.context.close();
  await bob.context.close();
});

test("sent while offline: both arrive in order, once each, for both people", async () => {
  const { alice, bob, conversation, close } = await twoInConversation(browser.current);
  await send(alice.page, "Before the drop");
  await messageItem(bob.page, "Before the drop").waitFor();

  const offline = ["First while offline", "Second while offline"];
  await alice.console.tolerate(RECONNECT_ERRORS, async () => {
    await alice.context.setOffline(true);
    await banner(alice.page, "Offline").waitFor();
    for (const content of offline) {
      await send(alice.page, content);
      await messageItem(alice.page, content).getByText("Sending…").waitFor();
    }
    assert.equal(await messageItem(bob.page, offline[0]).count(), 0);
    await alice.context.setOffline(false);
    await banner(alice.page, "Online").waitFor({ timeout: CONNECT_TIMEOUT_MS });
  });
  for (const content of offline) {
    await confirmed(messageItem(alice.page, content)).waitFor();
    await messageItem(bob.page, content).waitFor();
  }
  const expected = ["Before the drop", ...offline];
  assert.deepEqual(await shownContents(alice.page), expected);
  assert.deepEqual(await shownContents(bob.page), expected);
  const stored = await api("GET", `/messages/conversation/${conversation.id}`, {
    token: alice.user.token,
  });
  assert.deepEqual(
    [...stored.items].sort((a, b) => a.seq - b.seq).map((message) => message.content),
    expected,
  );

  await close();
});

test("a refused send stays failed across a reload until Discard", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await registerUser("Bob");
  const conversation = await createConversation(alice.user, [bob]);
  await openConversation(alice.page, conversation);

  // An archived conversation refuses sends (409 CONVERSATION_READ_ONLY): permanent.
  const path = `/conversations/${conversation.id}`;
  await api("PATCH", path, { token: alice.user.token, body: { status: "ARCHIVED" } });
  const content = "Refused, then discarded";
  await send(alice.page, content);
  const mine = messageItem(alice.page, content);
  await mine.getByRole("alert").getByText(/Not sent/).waitFor();

  await alice.page.reload();
  await alice.page.getByRole("heading", { name: conversation.name }).waitFor();
  await mine.getByRole("button", { name: "Retry" }).waitFor();
  await mine.getByRole("button", { name: "Discard" }).click();
  await mine.waitFor({ state: "detached" });

  await alice.page.reload();
  await openConversationAgain(alice.page, conversation);
  assert.equal(await mine.count(), 0);
  alice.console.assertClean();
  await alice.context.close();
});

test("logging out forgets the outbox", async () => {
  const aliceUser = await registerUser("Alice");
  const alice = await openTab(browser.current);
  const gate = await socketGate(alice.page);
  await logIn(alice.page, aliceUser);
  const bob = await registerUser("Bob");
  const conversation = await createConversation(aliceUser, [bob]);
  await openConversation(alice.page, conversation);

  const content = "Never sent, then logged out";
  await alice.console.tolerate(RECONNECT_ERRORS, async () => {
    gate.shut();
    await banner(alice.page, "Offline").waitFor();
    await send(alice.page, content);
    await messageItem(alice.page, content).getByText("Sending…").waitFor();
    await alice.page.getByRole("button", { name: "Log out" }).click();
    await alice.page.getByRole("button", { name: "Log in" }).waitFor();
    gate.open();
  });
  await logIn(alice.page, aliceUser);
  await openConversation(alice.page, conversation);
  // Not shown, and (the socket is up) not sent from a leftover outbox either.
  assert.equal(await messageItem(alice.page, content).count(), 0);
  const stored = await api("GET", `/messages/conversation/${conversation.id}`, {
    token: aliceUser.token,
  });
  assert.deepEqual(stored.items, []);
  alice.console.assertClean();
  await alice.context.close();
});

/** After a reload on a conversation's page: its heading and first page of history. */
async function openConversationAgain(page, conversation) {
  await page.getByRole("heading", { name: conversation.name }).waitFor();
  await page.getByRole("log").locator(".history-status").filter({ hasText: /\S/ }).waitFor();
}

test("a transient refusal is retried by itself, in order, with the same clientMessageId", async () => {
  const aliceUser = await registerUser("Alice");
  const alice = await openTab(browser.current);
  // The page's sends as the server would refuse them when it is briefly unavailable: the
  // first `send_message` is answered SERVICE_UNAVAILABLE here and never reaches the server.
  const sent = [];
  let refusals = 1;
  await alice.page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      const send = typeof frame === "string" && /^42(\d+)\["send_message",(.*)\]$/.exec(frame);
      if (send && refusals > 0) {
        refusals -= 1;
        const error = { code: "SERVICE_UNAVAILABLE", message: "Try again" };
        ws.send(`43${send[1]}[${JSON.stringify({ ok: false, error })}]`);
        sent.push({ refused: true, ...JSON.parse(send[2]) });
        return;
      }
      if (send) sent.push({ refused: false, ...JSON.parse(send[2]) });
      server.send(frame);
    });
    server.onMessage((frame) => ws.send(frame));
  });
  await logIn(alice.page, aliceUser);
  const bob = await person(browser.current, "Bob");
  const conversation = await createConversation(aliceUser, [bob.user]);
  await openConversation(alice.page, conversation);
  await openConversation(bob.page, conversation);

  const contents = ["Refused once, then sent", "Sent after it"];
  for (const content of contents) await send(alice.page, content);
  for (const content of contents) {
    await confirmed(messageItem(alice.page, content)).waitFor();
    await messageItem(bob.page, content).waitFor();
  }
  assert.deepEqual(await shownContents(alice.page), contents);
  assert.deepEqual(await shownContents(bob.page), contents);
  assert.equal(await alice.page.getByText(/Not sent/).count(), 0);
  // Resent once, with the same clientMessageId; the one behind it waited its turn.
  assert.deepEqual(
    sent.map(({ refused, content }) => [refused, content]),
    [
      [true, contents[0]],
      [false, contents[0]],
      [false, contents[1]],
    ],
  );
  assert.equal(sent[0].clientMessageId, sent[1].clientMessageId);

  alice.console.assertClean();
  bob.console.assertClean();
  await alice.context.close();
  await bob.context.close();
});

test("a send the server asks to hold back shows Not sent yet, and Retry now sends it at once", async () => {
  const aliceUser = await registerUser("Alice");
  const alice = await openTab(browser.current);
  // The first `send_message` is answered SERVICE_UNAVAILABLE with a minute's Retry-After here
  // (it never reaches the server): without the button it would wait that long.
  const sent = [];
  let refusals = 1;
  await alice.page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      const send = typeof frame === "string" && /^42(\d+)\["send_message",(.*)\]$/.exec(frame);
      if (send) sent.push(JSON.parse(send[2]).clientMessageId);
      if (send && refusals > 0) {
        refusals -= 1;
        const error = {
          code: "SERVICE_UNAVAILABLE",
          message: "The server is busy",
          details: { retryAfterSeconds: 60 },
        };
        ws.send(`43${send[1]}[${JSON.stringify({ ok: false, error })}]`);
        return;
      }
      server.send(frame);
    });
    server.onMessage((frame) => ws.send(frame));
  });
  await logIn(alice.page, aliceUser);
  const bob = await registerUser("Bob");
  const conversation = await createConversation(aliceUser, [bob]);
  await openConversation(alice.page, conversation);

  await send(alice.page, "Held back by the server");
  const mine = messageItem(alice.page, "Held back by the server");
  await mine.getByRole("status").getByText(/Not sent yet: The server is busy/).waitFor();
  await mine.getByRole("button", { name: "Retry now" }).click();
  await confirmed(mine).waitFor();
  await mine.getByRole("button", { name: "Retry now" }).waitFor({ state: "detached" });
  assert.equal(await messageItem(alice.page, "Held back by the server").count(), 1);
  assert.equal(sent.length, 2);
  assert.equal(sent[0], sent[1], "the same clientMessageId");

  alice.console.assertClean();
  await alice.context.close();
});
