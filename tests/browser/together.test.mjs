// What two people see of each other in a conversation: typing, "Seen by", reactions, a thread
// in the side panel; starting a conversation by finding someone; a search hit that jumps to an
// old message; an owner managing members. axe-core checks each panel and dialog as it opens.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  api,
  assertAccessible,
  composer,
  confirmed,
  createConversation,
  messageItem,
  openConversation,
  person,
  registerUser,
  send,
  sharedBrowser,
  twoInConversation,
} from "./harness.mjs";

const browser = sharedBrowser();

test("typing, Seen by, and reactions, as the other person sees them", async () => {
  const { alice, bob, conversation, close } = await twoInConversation(browser.current);

  // Alice types: Bob is told, and told again that she stopped once she sends.
  const typing = bob.page.locator(".typing");
  await composer(alice.page).pressSequentially("Are you th");
  await typing.getByText("Alice is typing...").waitFor();
  await composer(alice.page).press("Enter");
  await typing.getByText("Alice is typing...").waitFor({ state: "detached" });

  // Bob has the conversation open and the window in view: he reads it, and Alice sees it.
  const mine = messageItem(alice.page, "Are you th");
  await messageItem(bob.page, "Are you th").waitFor();
  await mine.getByText(`Seen by ${bob.user.displayName}`).waitFor();
  await mine.locator('.delivery[title="Read"]').waitFor();

  // Bob reacts; Alice sees the count and who, adds hers, and Bob takes his back.
  const theirs = messageItem(bob.page, "Are you th");
  await theirs.hover();
  await theirs.getByRole("button", { name: "Add reaction" }).click();
  await bob.page.getByRole("group", { name: "Pick a reaction" }).getByRole("button").first().click();
  await assertAccessible(bob.page, "the reaction picker");
  const bobsReaction = theirs.locator(".reaction");
  await bobsReaction.waitFor();
  const emoji = (await bobsReaction.textContent()).split(" ")[0];
  const onAlices = mine.getByRole("button", { name: new RegExp(`^${emoji} 1: Bob$`) });
  await onAlices.waitFor();
  assert.equal(await onAlices.getAttribute("aria-pressed"), "false");
  await onAlices.click();
  const both = mine.getByRole("button", { name: new RegExp(`^${emoji} 2: (Alice and Bob|Bob and Alice)$`) });
  await both.waitFor();
  assert.equal(await both.getAttribute("aria-pressed"), "true");
  await theirs.getByRole("button", { name: new RegExp(`^${emoji} 2`) }).click();
  await mine.getByRole("button", { name: new RegExp(`^${emoji} 1: Alice$`) }).waitFor();

  await close();
});

test("a reply in a thread: the side panel, the count under the root, Escape closes", async () => {
  const { alice, bob, close } = await twoInConversation(browser.current);
  await send(alice.page, "Lunch options?");
  const root = messageItem(bob.page, "Lunch options?");
  await root.waitFor();

  await root.hover();
  await root.getByRole("button", { name: "Reply in thread" }).click();
  const panel = bob.page.getByRole("complementary", { name: "Thread" });
  await panel.getByText("Lunch options?").waitFor();
  const reply = panel.getByRole("textbox", { name: "Reply in thread" });
  await reply.fill("Tacos");
  await reply.press("Enter");
  await confirmed(panel.getByRole("listitem").filter({ hasText: "Tacos" })).waitFor();
  await assertAccessible(bob.page, "the thread panel");

  // The reply stays in the thread: Alice sees the count under her message, not the reply in
  // the history, and opens the thread from the count.
  const mine = messageItem(alice.page, "Lunch options?");
  await mine.getByRole("button", { name: "1 reply" }).click();
  const alicesPanel = alice.page.getByRole("complementary", { name: "Thread" });
  await alicesPanel.getByRole("listitem").filter({ hasText: "Tacos" }).waitFor();
  assert.equal(await messageItem(alice.page, "Tacos").count(), 0);
  await alice.page.keyboard.press("Escape");
  await alicesPanel.waitFor({ state: "detached" });

  await close();
});

test("New conversation finds a person by name and opens a direct conversation", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await person(browser.current, "Bob");
  await alice.page.getByRole("button", { name: "New conversation" }).click();
  const dialog = alice.page.getByRole("dialog", { name: "New conversation" });
  await dialog.getByLabel("Find people").fill(bob.user.username);
  await dialog.getByRole("list", { name: "People found" }).waitFor();
  await assertAccessible(alice.page, "the New conversation dialog");
  await dialog
    .getByRole("list", { name: "People found" })
    .getByRole("button", { name: new RegExp(bob.user.username) })
    .click();
  await dialog.getByRole("button", { name: "Start conversation" }).click();
  await dialog.waitFor({ state: "detached" });

  // A direct conversation is titled with the other person's name.
  await alice.page.getByRole("heading", { name: "Bob" }).waitFor();
  await send(alice.page, "Found you");
  await confirmed(messageItem(alice.page, "Found you")).waitFor();
  const bobsList = bob.page.getByRole("navigation", { name: "Conversations" });
  await bobsList.getByRole("link", { name: /Alice/ }).click();
  await messageItem(bob.page, "Found you").waitFor();

  alice.console.assertClean();
  bob.console.assertClean();
  await alice.context.close();
  await bob.context.close();
});

test("a search hit opens its conversation at the message, pages back", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await registerUser("Bob");
  const carol = await registerUser("Carol");
  const conversation = await createConversation(alice.user, [bob, carol]);
  // The hit is older than the first page the view loads (50): the jump pages back to it. Two
  // senders: one may send 60 a minute in a conversation.
  const needle = `needle${Date.now().toString(36)}`;
  await api("POST", "/messages?wait=true", {
    token: bob.token,
    body: { conversationId: conversation.id, content: `the ${needle} is here` },
  });
  for (let index = 0; index < 60; index += 1) {
    await api("POST", "/messages?wait=true", {
      token: (index % 2 === 0 ? bob : carol).token,
      body: { conversationId: conversation.id, content: `filler ${index}` },
    });
  }

  const search = alice.page.getByRole("search");
  await search.getByLabel("Search", { exact: true }).fill(needle);
  const hit = search.getByRole("button").filter({ hasText: needle });
  await hit.locator("mark").getByText(needle).waitFor();
  await assertAccessible(alice.page, "the search results");
  await hit.click();

  await alice.page.getByRole("heading", { name: conversation.name }).waitFor();
  const target = messageItem(alice.page, `the ${needle} is here`);
  await target.waitFor();
  await alice.page.waitForFunction(
    (content) => document.activeElement?.textContent?.includes(content) ?? false,
    `the ${needle} is here`,
  );
  // In view inside the history's scroller.
  const history = await alice.page.getByRole("log").boundingBox();
  const shown = await target.boundingBox();
  assert.ok(shown.y >= history.y && shown.y + shown.height <= history.y + history.height);

  alice.console.assertClean();
  await alice.context.close();
});

test("an owner makes a member an admin and removes another; the removed one is told", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await registerUser("Bob");
  const carol = await person(browser.current, "Carol");
  const conversation = await createConversation(alice.user, [bob, carol.user]);
  await openConversation(alice.page, conversation);
  await openConversation(carol.page, conversation);

  await alice.page.getByRole("button", { name: "Settings and members" }).click();
  const dialog = alice.page.getByRole("dialog");
  await dialog.getByRole("heading", { name: "Members (3)" }).waitFor();
  await assertAccessible(alice.page, "the settings and members dialog");
  await dialog.getByLabel("Role of Bob").selectOption("ADMIN");
  const bobsRow = dialog.getByRole("listitem").filter({ hasText: "Bob" });
  await bobsRow.locator(".role").getByText("Admin").waitFor();
  const members = await api("GET", `/conversations/${conversation.id}/participants`, {
    token: alice.user.token,
  });
  const roles = Object.fromEntries(
    members.items.map((member) => [member.userId, member.role]),
  );
  assert.equal(roles[bob.id], "ADMIN");

  alice.page.once("dialog", (confirm) => void confirm.accept());
  await dialog.getByRole("button", { name: "Remove Carol" }).click();
  await dialog.getByRole("heading", { name: "Members (2)" }).waitFor();
  // Carol's tab learns it live: the conversation leaves her list.
  const carolsList = carol.page.getByRole("navigation", { name: "Conversations" });
  await carolsList.getByRole("link", { name: conversation.name }).waitFor({ state: "detached" });

  alice.console.assertClean();
  carol.console.assertClean();
  await alice.context.close();
  await carol.context.close();
});
