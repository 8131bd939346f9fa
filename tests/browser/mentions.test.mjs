// Mentions, hashtags and link previews: the composer's @name and #tag suggestions (keyboard
// and mouse), a mention shown to the one it names, a hashtag searched for, and a link's
// preview card once the server has fetched the page (served here on 127.0.0.1: the test
// server runs with PREVIEW_ALLOW_PRIVATE=true, tests/web/test_browser.py).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import {
  assertAccessible,
  composer,
  confirmed,
  createConversation,
  messageItem,
  openConversation,
  person,
  registerUser,
  sharedBrowser,
  twoInConversation,
} from "./harness.mjs";

const browser = sharedBrowser();

// The page a message links to, and every path the server or a browser asked of it.
const asked = [];
const pages = createServer((request, response) => {
  asked.push(request.url);
  if (request.url !== "/launch") {
    response.writeHead(404).end();
    return;
  }
  const port = pages.address().port;
  response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  response.end(`<!doctype html><html><head>
    <title>Not this title</title>
    <meta property="og:title" content="Launch plan <b>v2</b>">
    <meta property="og:description"
      content="Everything about the launch: dates, owners and the checklist.">
    <meta property="og:site_name" content="Test Pages">
    <meta property="og:image" content="http://127.0.0.1:${port}/tracker.png">
    </head><body>Launch</body></html>`);
});
before(() => new Promise((resolve) => pages.listen(0, "127.0.0.1", resolve)));
after(() => new Promise((resolve) => pages.close(resolve)));

/** The suggestions list of `page`'s composer, by its name. */
function suggestions(page, name) {
  return page.getByRole("listbox", { name });
}

/** The index of the option `aria-activedescendant` names, among the list's options. */
async function activeIndex(page) {
  const id = await composer(page).getAttribute("aria-activedescendant");
  const ids = await page.getByRole("option").evaluateAll((options) => options.map((o) => o.id));
  return ids.indexOf(id);
}

test("@ suggests members, picked with the keyboard; the one named sees it as theirs", async () => {
  const bobcat = await registerUser("Bobcat");
  const { alice, bob, close } = await twoInConversation(browser.current, {
    bobTab: { colorScheme: "dark" },
    members: [bobcat],
  });

  const box = composer(alice.page);
  await box.pressSequentially("Hi @bo");
  const people = suggestions(alice.page, "People to mention");
  await people.waitFor();
  // Both members starting with "bo", not Alice herself; the first one active.
  assert.deepEqual(
    (await people.getByRole("option").allTextContents()).sort(),
    [`Bob @${bob.user.username}`, `Bobcat @${bobcat.username}`].sort(),
  );
  assert.equal(await box.getAttribute("aria-controls"), await people.getAttribute("id"));
  assert.equal(await activeIndex(alice.page), 0);
  await box.press("ArrowDown");
  assert.equal(await activeIndex(alice.page), 1);
  await box.press("ArrowUp");
  assert.equal(await activeIndex(alice.page), 0);
  const bobOption = people.getByRole("option", { name: `Bob @${bob.user.username}` });
  if ((await bobOption.getAttribute("aria-selected")) !== "true") await box.press("ArrowDown");
  assert.equal(await bobOption.getAttribute("aria-selected"), "true");
  await assertAccessible(alice.page, "the mention suggestions");

  // Enter inserts (it does not send while the list is open).
  await box.press("Enter");
  await people.waitFor({ state: "detached" });
  assert.equal(await box.inputValue(), `Hi @${bob.user.username} `);
  assert.equal(await box.getAttribute("aria-activedescendant"), null);
  assert.equal(await messageItem(alice.page, "Hi @").count(), 0, "nothing sent yet");

  // A new tag: nothing to suggest, so Enter sends. The text is never read as HTML.
  await box.pressSequentially("<b>#launch</b>");
  await box.press("Enter");
  const content = `Hi @${bob.user.username} <b>#launch</b>`;
  const mine = messageItem(alice.page, content);
  await confirmed(mine).waitFor();
  assert.equal(await mine.locator(".content b").count(), 0);
  // Alice sees a mention of Bob, not of herself.
  await mine.locator(".mention", { hasText: `@${bob.user.username}` }).waitFor();
  assert.equal(await mine.locator(".mention-me").count(), 0);

  // Bob sees it as his own mention, and the tag.
  const his = messageItem(bob.page, content);
  const mention = his.getByTitle("Mentions you");
  await mention.waitFor();
  assert.equal(await mention.textContent(), `@${bob.user.username}`);
  assert.equal(await mention.evaluate((element) => element.tagName), "MARK");
  await his.getByRole("button", { name: "#launch" }).waitFor();
  await assertAccessible(bob.page, "a message mentioning the reader (dark)");

  // The tag is a search for its messages.
  await his.getByRole("button", { name: "#launch" }).click();
  const results = bob.page.getByRole("region", { name: "Search results" });
  await results.getByRole("status").getByText("1 found.").waitFor();
  await results.getByRole("button", { name: /launch/ }).waitFor();
  assert.equal(await bob.page.getByRole("searchbox").inputValue(), "#launch");
  await bob.page.keyboard.press("Escape");
  await results.waitFor({ state: "hidden" });

  // # suggests the tags in use; Tab inserts, a click inserts, Escape closes.
  const hisBox = composer(bob.page);
  await hisBox.click();
  await hisBox.pressSequentially("Ready for #LA");
  assert.equal(await hisBox.inputValue(), "Ready for #LA");
  const tags = suggestions(bob.page, "Hashtags");
  await tags.getByRole("option", { name: "#launch 1 message" }).waitFor();
  await assertAccessible(bob.page, "the hashtag suggestions (dark)");
  await hisBox.press("Tab");
  await tags.waitFor({ state: "detached" });
  assert.equal(await hisBox.inputValue(), "Ready for #launch ");
  assert.equal(await hisBox.evaluate((element) => element === document.activeElement), true);

  await hisBox.pressSequentially("with @bobc");
  await suggestions(bob.page, "People to mention")
    .getByRole("option", { name: `Bobcat @${bobcat.username}` })
    .click();
  assert.equal(await hisBox.inputValue(), `Ready for #launch with @${bobcat.username} `);

  await hisBox.pressSequentially("#la");
  // Typed right after a pick: after the inserted name, not before it.
  assert.equal(await hisBox.inputValue(), `Ready for #launch with @${bobcat.username} #la`);
  await tags.waitFor();
  await hisBox.press("Escape");
  await tags.waitFor({ state: "detached" });
  assert.equal(await hisBox.inputValue(), `Ready for #launch with @${bobcat.username} #la`);
  await hisBox.press("Enter");
  await confirmed(messageItem(bob.page, "Ready for #launch with")).waitFor();
  assert.equal(await hisBox.inputValue(), "");

  await close();
});

test("what is typed right after a pick goes after the inserted name", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await registerUser("Bob");
  const conversation = await createConversation(alice.user, [bob]);
  await openConversation(alice.page, conversation);

  const box = composer(alice.page);
  await box.pressSequentially("Hi @bo");
  const option = suggestions(alice.page, "People to mention").getByRole("option", {
    name: `Bob @${bob.username}`,
  });
  await option.waitFor();
  // A quick typist's next key can come before the browser's next frame; a test cannot time a
  // real key to land there, so the click and the keys go in one task of the page's (each key
  // an input event of the browser's own, as typing makes).
  const typed = await option.evaluate(async (element) => {
    const textarea = document.activeElement;
    const settle = async () => {
      for (let turn = 0; turn < 50; turn += 1) await Promise.resolve();
    };
    element.click();
    await settle();
    for (const key of ["i", "s"]) {
      document.execCommand("insertText", false, key);
      await settle();
    }
    return textarea.value;
  });
  assert.equal(typed, `Hi @${bob.username} is`);

  alice.console.assertClean();
  await alice.context.close();
});

test("a link is clickable; its preview card, text only, once the server fetched it", async () => {
  const { alice, bob, close } = await twoInConversation(browser.current);

  const url = `http://127.0.0.1:${pages.address().port}/launch`;
  await composer(alice.page).fill(`The plan: ${url}.`);
  await composer(alice.page).press("Enter");
  await confirmed(messageItem(alice.page, "The plan:")).waitFor();

  const his = messageItem(bob.page, "The plan:");
  const link = his.locator(".content").getByRole("link", { name: url, exact: true });
  await link.waitFor();
  assert.equal(await link.getAttribute("href"), url);
  assert.equal(await link.getAttribute("target"), "_blank");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");

  // The server fetches the page after the commit; message_updated brings the preview.
  const card = his.locator(".link-preview");
  const title = card.getByRole("link", { name: "Launch plan <b>v2</b>" });
  await title.waitFor();
  assert.equal(await title.getAttribute("href"), url);
  assert.equal(await title.getAttribute("rel"), "noopener noreferrer");
  assert.equal(await card.locator("b").count(), 0, "the title is text, not HTML");
  await card.getByText("Test Pages").waitFor();
  await card.getByText("Everything about the launch: dates, owners and the checklist.").waitFor();
  // A preview is not an edit; the page's image is not loaded (the reader's address stays
  // private), so the page server was asked for the page only.
  assert.equal(await his.getByRole("button", { name: "edited" }).count(), 0);
  assert.equal(await card.locator("img").count(), 0);
  assert.deepEqual(asked, ["/launch"]);
  await messageItem(alice.page, "The plan:").locator(".link-preview").waitFor();
  await assertAccessible(bob.page, "a message with a link preview");

  await close();
});
