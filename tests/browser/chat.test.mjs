// Two people chatting: the optimistic send (pending before the server confirms), live
// delivery, a failed send and its Retry, a reload, and going offline and back.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  api,
  CONNECT_TIMEOUT_MS,
  createConversation,
  logIn,
  messageItem,
  openConversation,
  openTab,
  person,
  registerUser,
  send,
  sharedBrowser,
  confirmed,
  socketHold,
  twoInConversation,
} from "./harness.mjs";

const browser = sharedBrowser();

test("pending before the server confirms, then sent; the other sees it live; never twice", async () => {
  const aliceUser = await registerUser("Alice");
  const alice = await openTab(browser.current);
  // Before the page connects: the hold wraps the socket from its first frame.
  const hold = await socketHold(alice.page, ["message_confirmed", "new_message"]);
  await logIn(alice.page, aliceUser);
  const bob = await person(browser.current, "Bob");
  const conversation = await createConversation(aliceUser, [bob.user]);
  await openConversation(alice.page, conversation);
  await openConversation(bob.page, conversation);

  hold.hold();
  await send(alice.page, "Hello Bob, pending first");
  const mine = messageItem(alice.page, "Hello Bob, pending first");
  await mine.getByText("Sending…").waitFor();
  // The server did commit it (Bob sees it live) and did tell Alice: her confirmation is held.
  await messageItem(bob.page, "Hello Bob, pending first").waitFor();
  await hold.waitForHeld("message_confirmed");
  assert.equal(await mine.getByText("Sending…").count(), 1, "still pending while held");
  assert.equal(await confirmed(mine).count(), 0);

  hold.release();
  await confirmed(mine).waitFor();
  await mine.getByText("Sending…").waitFor({ state: "detached" });
  assert.equal(await messageItem(alice.page, "Hello Bob, pending first").count(), 1);
  assert.equal(await messageItem(bob.page, "Hello Bob, pending first").count(), 1);

  // And back: Bob's answer reaches Alice live, once.
  await send(bob.page, "Hi Alice");
  await confirmed(messageItem(bob.page, "Hi Alice")).waitFor();
  await messageItem(alice.page, "Hi Alice").waitFor();
  assert.equal(await messageItem(alice.page, "Hi Alice").count(), 1);
  assert.equal(await messageItem(alice.page, "Hello Bob, pending first").count(), 1);

  alice.console.assertClean();
  bob.console.assertClean();
  await alice.context.close();
  await bob.context.close();
});

test("a refused send shows Retry, and Retry sends it", async () => {
  const { alice, bob, conversation, close } = await twoInConversation(browser.current);

  // An archived conversation refuses sends (409 CONVERSATION_READ_ONLY).
  const path = `/conversations/${conversation.id}`;
  await api("PATCH", path, { token: alice.user.token, body: { status: "ARCHIVED" } });
  await send(alice.page, "Sent after a retry");
  const mine = messageItem(alice.page, "Sent after a retry");
  await mine.getByRole("alert").getByText(/Not sent/).waitFor();

  await api("PATCH", path, { token: alice.user.token, body: { status: "ACTIVE" } });
  await mine.getByRole("button", { name: "Retry" }).click();
  await confirmed(mine).waitFor();
  await mine.getByRole("button", { name: "Retry" }).waitFor({ state: "detached" });
  await messageItem(bob.page, "Sent after a retry").waitFor();
  assert.equal(await messageItem(alice.page, "Sent after a retry").count(), 1);
  assert.equal(await messageItem(bob.page, "Sent after a retry").count(), 1);

  await close();
});

test("a reload keeps the history", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await registerUser("Bob");
  const conversation = await createConversation(alice.user, [bob]);
  await openConversation(alice.page, conversation);
  await send(alice.page, "Before the reload");
  await confirmed(messageItem(alice.page, "Before the reload")).waitFor();

  await alice.page.reload();
  // Still signed in (the tab's session), on the same conversation, with its history.
  await alice.page.getByRole("heading", { name: conversation.name }).waitFor();
  await confirmed(messageItem(alice.page, "Before the reload")).waitFor();
  assert.equal(await messageItem(alice.page, "Before the reload").count(), 1);
  alice.console.assertClean();
  await alice.context.close();
});

test("offline and back: what the other sent meanwhile arrives, once, in order", async () => {
  const { alice, bob, close } = await twoInConversation(browser.current);
  await send(alice.page, "Before Bob drops");
  await messageItem(bob.page, "Before Bob drops").waitFor();

  const missed = ["Missed one", "Missed two", "Missed three"];
  // While offline, Chromium reports each reconnect socket.io tries as a console error.
  await bob.console.tolerate(/WebSocket connection .* failed/, async () => {
    await bob.context.setOffline(true);
    await bob.page.getByRole("banner").getByText("Offline").waitFor();
    for (const content of missed) {
      await send(alice.page, content);
      await confirmed(messageItem(alice.page, content)).waitFor();
    }
    await bob.context.setOffline(false);
    const online = bob.page.getByRole("banner").getByText("Online");
    await online.waitFor({ timeout: CONNECT_TIMEOUT_MS });
  });
  for (const content of missed) await messageItem(bob.page, content).waitFor();
  const history = bob.page.getByRole("log").getByRole("listitem");
  const shown = await history.locator(".content").allTextContents();
  assert.deepEqual(shown, ["Before Bob drops", ...missed]);

  await close();
});
